-- Custom migration (drizzle-kit generate --custom): storage settings drizzle cannot express.
-- A claim rewrites a queued row; free space on each page lets PostgreSQL keep the new
-- version on the same page, which logs only the changed bytes and skips a second lock record.
-- A queue table churns, so vacuum it early instead of at 20% dead rows.
ALTER TABLE "jqjobs"."jobs" SET (fillfactor = 60, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05);
