# The two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run test setup sqlx-prepare db-stop db-remove

help:
	@echo "make run          set up, seed the demo, print an API key, serve on 127.0.0.1:8080"
	@echo "make test         set up, then fmt, clippy, all Rust tests and the Postman collection"
	@echo "make sqlx-prepare regenerate .sqlx/ after changing a query or migration"
	@echo "make db-stop      stop the project-local PostgreSQL clusters (data kept)"
	@echo "make db-remove    stop them and delete their data, wherever it lives"

run:
	@scripts/setup.sh
	@scripts/run.sh

test:
	@scripts/setup.sh --test
	@scripts/test.sh

setup:
	@scripts/setup.sh

sqlx-prepare:
	@scripts/setup.sh
	@scripts/sqlx-prepare.sh

db-stop:
	@scripts/db-stop.sh

db-remove:
	@scripts/db-stop.sh --remove
