CREATE TABLE "jqjobs"."jobs_offers" (
	"id" text PRIMARY KEY NOT NULL,
	"worker_id" text NOT NULL,
	"queues" text[],
	"lease_ms" double precision NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"deadline" timestamp (3) with time zone NOT NULL,
	"job_id" bigint
);
--> statement-breakpoint
CREATE INDEX "jobs_offers_idx" ON "jqjobs"."jobs_offers" USING btree ("created_at") WHERE job_id is null;--> statement-breakpoint
-- Added by hand (drizzle-orm has no way to declare an UNLOGGED table): offers of idle
-- workers are worthless after a crash (their waits are gone), so the table writes no WAL;
-- altering it while still empty, in the migration's transaction, costs nothing.
ALTER TABLE "jqjobs"."jobs_offers" SET UNLOGGED;
