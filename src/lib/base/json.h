/* jansson helpers for untrusted JSON: a depth cap before parsing, an object
 * check, and field accessors whose errors name the field (→ HTTP 422). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define NC_JSON_MAX_DEPTH 64

/* True when no array/object in `s` nests deeper than `max` (strings are skipped). */
bool nc_json_depth_ok(const char *s, size_t len, int max);

/* Parses a request body that must be a JSON object of at most NC_JSON_MAX_DEPTH
 * levels. Errors are NC_ERR_BAD_REQUEST and say what was wrong and where. */
int nc_json_parse_object(const char *s, size_t len, json_t **out, struct nc_err *err);

/* Refuses fields not in the NULL-terminated `allowed` list (NC_ERR_INVALID). */
int nc_json_check_fields(json_t *obj, const char *const allowed[], struct nc_err *err);

/* Reads a string field. Missing: *out = NULL, an error only when `required`.
 * Present but not a string (or empty): NC_ERR_INVALID naming the field. */
int nc_json_get_string(json_t *obj, const char *key, bool required, const char **out,
                       struct nc_err *err);
