CREATE SCHEMA "jqjobs";
--> statement-breakpoint
CREATE TABLE "jqjobs"."jobs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "jqjobs"."jobs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"type" text NOT NULL,
	"queue_name" text NOT NULL,
	"priority" integer NOT NULL,
	"payload" json NOT NULL,
	"max_attempts" integer NOT NULL,
	"delete_on_complete" boolean NOT NULL,
	"coalesce_id" text,
	"max_runtime_seconds" double precision,
	"backoff" json,
	"created_at" timestamp (3) with time zone NOT NULL,
	"start_at" timestamp (3) with time zone,
	"run_at" timestamp (3) with time zone NOT NULL,
	"lock_owner" text,
	"lock_until" timestamp (3) with time zone,
	"error_message" text,
	"ended_at" timestamp (3) with time zone,
	"status" text NOT NULL,
	"attempt_number" integer DEFAULT 0 NOT NULL,
	"claim_seq" integer DEFAULT 0 NOT NULL,
	"worker_id" text,
	"started_at" timestamp (3) with time zone,
	"lease_until" timestamp (3) with time zone,
	CONSTRAINT "jobs_status_check" CHECK (status in ('queued', 'running', 'wait_async', 'completed', 'failed'))
);
--> statement-breakpoint
CREATE INDEX "jobs_claim_idx" ON "jqjobs"."jobs" USING btree ("priority" DESC NULLS FIRST,"run_at","id","queue_name") WHERE status = 'queued';--> statement-breakpoint
CREATE INDEX "jobs_active_idx" ON "jqjobs"."jobs" USING btree ("id") WHERE status in ('running', 'wait_async');--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_coalesce_id_key" ON "jqjobs"."jobs" USING btree ("coalesce_id") WHERE coalesce_id is not null;