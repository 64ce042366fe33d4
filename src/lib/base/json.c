#include "base/json.h"

#include <stdlib.h>
#include <string.h>

bool nc_json_depth_ok(const char *s, size_t len, int max)
{
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        i++; /* skip the escaped character, whatever it is */
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max)
        return false;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return true;
}

int nc_json_parse_object(const char *s, size_t len, json_t **out, struct nc_err *err)
{
  if (!s || len == 0)
    return nc_err_set(err, NC_ERR_BAD_REQUEST, "request body is empty; expected a JSON object");
  if (!nc_json_depth_ok(s, len, NC_JSON_MAX_DEPTH))
    return nc_err_set(err, NC_ERR_BAD_REQUEST, "JSON nested deeper than %d levels",
                      NC_JSON_MAX_DEPTH);

  json_error_t jerr;
  json_t *v = json_loadb(s, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!v)
    return nc_err_set(err, NC_ERR_BAD_REQUEST, "malformed JSON at line %d column %d: %s",
                      jerr.line, jerr.column, jerr.text);
  if (!json_is_object(v)) {
    json_decref(v);
    return nc_err_set(err, NC_ERR_BAD_REQUEST, "request body must be a JSON object");
  }
  *out = v;
  return 0;
}

int nc_json_check_fields(json_t *obj, const char *const allowed[], struct nc_err *err)
{
  const char *key;
  json_t *value;
  json_object_foreach (obj, key, value) {
    bool known = false;
    for (size_t i = 0; allowed[i]; i++)
      if (strcmp(key, allowed[i]) == 0) {
        known = true;
        break;
      }
    if (!known) {
      char list[256] = "";
      size_t n = 0;
      for (size_t i = 0; allowed[i] && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", allowed[i]);
      return nc_err_set(err, NC_ERR_INVALID, "unknown field '%.64s' (known fields: %s)", key,
                        list);
    }
  }
  return 0;
}

int nc_json_get_string(json_t *obj, const char *key, bool required, const char **out,
                       struct nc_err *err)
{
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v || json_is_null(v)) {
    if (required)
      return nc_err_set(err, NC_ERR_INVALID, "field '%s' is required", key);
    return 0;
  }
  if (!json_is_string(v))
    return nc_err_set(err, NC_ERR_INVALID, "field '%s' must be a string", key);
  *out = json_string_value(v);
  return 0;
}
