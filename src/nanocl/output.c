#include "output.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

struct table {
  size_t ncols;
  size_t nrows;
  size_t cap;
  char **cells; /* row-major, (nrows + 1) * ncols; row 0 is the header */
};

struct table *table_new(size_t ncols, const char *const headers[])
{
  struct table *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->ncols = ncols < TABLE_MAX_COLS ? ncols : TABLE_MAX_COLS;
  table_add(t, headers);
  return t;
}

void table_add(struct table *t, const char *const cells[])
{
  if (!t)
    return;
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **p = realloc(t->cells, cap * t->ncols * sizeof *p);
    if (!p)
      return;
    t->cells = p;
    t->cap = cap;
  }
  for (size_t c = 0; c < t->ncols; c++)
    t->cells[t->nrows * t->ncols + c] = strdup(cells[c] ? cells[c] : "");
  t->nrows++;
}

void table_print(const struct table *t, FILE *f)
{
  if (!t)
    return;
  size_t width[TABLE_MAX_COLS] = { 0 };
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t c = 0; c < t->ncols; c++) {
      const char *cell = t->cells[r * t->ncols + c];
      size_t len = cell ? strlen(cell) : 0;
      if (len > width[c])
        width[c] = len;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      const char *cell = t->cells[r * t->ncols + c];
      if (c + 1 == t->ncols)
        fprintf(f, "%s\n", cell ? cell : "");
      else
        fprintf(f, "%-*s   ", (int)width[c], cell ? cell : "");
    }
  }
}

void table_free(struct table *t)
{
  if (!t)
    return;
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t);
}

void out_json(FILE *f, json_t *value)
{
  json_dumpf(value, f, JSON_INDENT(2) | JSON_ENCODE_ANY);
  fputc('\n', f);
}

static int yaml_scalar(yaml_emitter_t *e, const char *text, yaml_scalar_style_t style)
{
  yaml_event_t ev;
  yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)text,
                               (int)strlen(text), 1, 1, style);
  return yaml_emitter_emit(e, &ev);
}

static int yaml_value(yaml_emitter_t *e, json_t *v)
{
  yaml_event_t ev;
  char num[64];
  const char *key;
  json_t *item;
  size_t i;

  switch (json_typeof(v)) {
  case JSON_OBJECT:
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    if (!yaml_emitter_emit(e, &ev))
      return 0;
    json_object_foreach (v, key, item)
      if (!yaml_scalar(e, key, YAML_ANY_SCALAR_STYLE) || !yaml_value(e, item))
        return 0;
    yaml_mapping_end_event_initialize(&ev);
    return yaml_emitter_emit(e, &ev);
  case JSON_ARRAY:
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    if (!yaml_emitter_emit(e, &ev))
      return 0;
    json_array_foreach (v, i, item)
      if (!yaml_value(e, item))
        return 0;
    yaml_sequence_end_event_initialize(&ev);
    return yaml_emitter_emit(e, &ev);
  case JSON_STRING: {
    /* A string that reads as another type ("true", "12", "null", "") is quoted. */
    const char *s = json_string_value(v);
    bool ambiguous = !*s || strspn(s, "0123456789.-+eE") == strlen(s) ||
                     !strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "null") ||
                     !strcmp(s, "yes") || !strcmp(s, "no") || !strcmp(s, "~");
    return yaml_scalar(e, s,
                       ambiguous ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
  }
  case JSON_INTEGER:
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return yaml_scalar(e, num, YAML_PLAIN_SCALAR_STYLE);
  case JSON_REAL:
    snprintf(num, sizeof num, "%.17g", json_real_value(v));
    return yaml_scalar(e, num, YAML_PLAIN_SCALAR_STYLE);
  case JSON_TRUE:
    return yaml_scalar(e, "true", YAML_PLAIN_SCALAR_STYLE);
  case JSON_FALSE:
    return yaml_scalar(e, "false", YAML_PLAIN_SCALAR_STYLE);
  case JSON_NULL:
  default:
    return yaml_scalar(e, "null", YAML_PLAIN_SCALAR_STYLE);
  }
}

int out_yaml(FILE *f, json_t *value)
{
  yaml_emitter_t e;
  yaml_event_t ev;
  if (!yaml_emitter_initialize(&e))
    return -1;
  yaml_emitter_set_output_file(&e, f);
  yaml_emitter_set_unicode(&e, 1);
  yaml_emitter_set_width(&e, -1);
  int ok = 1;
  yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
  ok = ok && yaml_emitter_emit(&e, &ev);
  yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
  ok = ok && yaml_emitter_emit(&e, &ev);
  ok = ok && yaml_value(&e, value);
  yaml_document_end_event_initialize(&ev, 1);
  ok = ok && yaml_emitter_emit(&e, &ev);
  yaml_stream_end_event_initialize(&ev);
  ok = ok && yaml_emitter_emit(&e, &ev);
  yaml_emitter_delete(&e);
  return ok ? 0 : -1;
}

int out_document(struct cli *cli, json_t *value, enum cli_output fallback)
{
  enum cli_output o = cli->output == CLI_OUTPUT_TABLE ? fallback : cli->output;
  if (o == CLI_OUTPUT_JSON) {
    out_json(stdout, value);
    return 0;
  }
  return out_yaml(stdout, value);
}

const char *out_age(const char *rfc3339, char *buf, size_t size)
{
  struct tm tm = { 0 };
  const char *end = rfc3339 ? strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  /* Image configs carry fractions of a second ("…:05.2918997Z"): skip them. */
  if (end && *end == '.')
    end += 1 + strspn(end + 1, "0123456789");
  if (!end || strcmp(end, "Z") != 0)
    return rfc3339 ? rfc3339 : "";
  long long secs = (long long)(time(NULL) - timegm(&tm));
  static const struct {
    long long unit;
    const char *name;
  } units[] = { { 86400 * 365, "year" }, { 86400 * 30, "month" }, { 86400 * 7, "week" },
                { 86400, "day" },        { 3600, "hour" },       { 60, "minute" } };
  if (secs < 60) {
    snprintf(buf, size, "%s", secs < 2 ? "just now" : "seconds ago");
    return buf;
  }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (secs >= units[i].unit) {
      long long n = secs / units[i].unit;
      snprintf(buf, size, "%lld %s%s ago", n, units[i].name, n == 1 ? "" : "s");
      break;
    }
  return buf;
}

void out_size(long long bytes, char *out, size_t size)
{
  if (bytes >= 1000LL * 1000 * 1000)
    snprintf(out, size, "%.2fGB", (double)bytes / 1e9);
  else if (bytes >= 1000 * 1000)
    snprintf(out, size, "%.1fMB", (double)bytes / 1e6);
  else if (bytes >= 1000)
    snprintf(out, size, "%.1fkB", (double)bytes / 1e3);
  else
    snprintf(out, size, "%lldB", bytes);
}
