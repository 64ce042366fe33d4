/* Rendering API answers: aligned tables for people, JSON and YAML for scripts. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "cli.h"

#define TABLE_MAX_COLS 12

struct table;

struct table *table_new(size_t ncols, const char *const headers[]);
/* Copies the cells (NULL prints as empty). */
void table_add(struct table *t, const char *const cells[]);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

void out_json(FILE *f, json_t *value);
/* YAML through libyaml's emitter, so quoting is always right. */
int out_yaml(FILE *f, json_t *value);
/* JSON or YAML as cli->output says; `fallback` when it says table. */
int out_document(struct cli *cli, json_t *value, enum cli_output fallback);

/* 1234567 → "1.2MB" (decimal units, as Docker prints sizes). */
void out_size(long long bytes, char *out, size_t size);

/* "2026-11-22T15:07:00Z" → "3 minutes ago"; the input itself if it is not RFC 3339. */
const char *out_age(const char *rfc3339, char *buf, size_t size);
