/* Helpers for the options that fill a container or cargo spec (cmd-container.c,
 * cmd-cargo.c, cmd-run.c). */
#pragma once

#include <jansson.h>
#include <stdint.h>

/* "256m", "1g", "1048576" → bytes (1024-based, as Docker). Returns 0 or -1. */
int spec_parse_size(const char *s, int64_t *out);
/* "30", "30s", "5m", "1h" → seconds (at most `max`). Returns 0 or -1. */
int spec_parse_seconds(const char *s, int64_t max, int64_t *out);
/* Appends the string `value` to the array spec[key], made when missing. */
void spec_append(json_t *spec, const char *key, const char *value);
/* "K=V" (or "K": empty value) into the object spec[key], made when missing. */
void spec_set_pair(json_t *spec, const char *key, const char *kv);
/* --entrypoint: [E], or [] for "" (clears the image's). */
void spec_set_entrypoint(json_t *spec, const char *arg);
/* --cpus "0.5": 0, or -1 when it is not a number. */
int spec_set_cpus(json_t *spec, const char *arg);
/* --pids-limit N (-1: no limit): 0 or -1. */
int spec_set_pids(json_t *spec, const char *arg);
