// The package as an ESM user loads it (see checks.cjs).
import pg from 'pg';
import { Pool } from 'poolguard/pg';
import { createPool } from 'poolguard/generic-pool';
import { DoubleReleaseError } from 'poolguard';
import * as testing from 'poolguard/testing';
import check from './checks.cjs';

await check('esm', { pg, Pool, createPool, DoubleReleaseError, testing });
