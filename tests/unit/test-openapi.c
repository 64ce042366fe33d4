/* docs/openapi.yaml describes exactly the routes nanocld serves. */
#include <stdbool.h>
#include <stdlib.h>
#include <yaml.h>

#include "api/api-internal.h"
#include "tap.h"

#define MAX_OPS 256

struct op {
  char method[16];
  char path[128];
};

static struct op doc_ops[MAX_OPS];
static int ndoc;

static void upper(char *s)
{
  for (; *s; s++)
    if (*s >= 'a' && *s <= 'z')
      *s = (char)(*s - 'a' + 'A');
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
  if (!map || map->type != YAML_MAPPING_NODE)
    return NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
      return yaml_document_get_node(doc, p->value);
  }
  return NULL;
}

/* Collects paths.<path>.<method> from the document. */
static int load(const char *file)
{
  FILE *f = fopen(file, "r");
  if (!f)
    return -1;
  yaml_parser_t p;
  yaml_document_t doc;
  yaml_parser_initialize(&p);
  yaml_parser_set_input_file(&p, f);
  int r = yaml_parser_load(&p, &doc) ? 0 : -1;
  yaml_parser_delete(&p);
  fclose(f);
  if (r < 0)
    return -1;

  yaml_node_t *paths = map_get(&doc, yaml_document_get_root_node(&doc), "paths");
  if (!paths || paths->type != YAML_MAPPING_NODE)
    r = -1;
  for (yaml_node_pair_t *pp = paths ? paths->data.mapping.pairs.start : NULL;
       pp && pp < paths->data.mapping.pairs.top; pp++) {
    yaml_node_t *path = yaml_document_get_node(&doc, pp->key);
    yaml_node_t *ops = yaml_document_get_node(&doc, pp->value);
    if (!ops || ops->type != YAML_MAPPING_NODE)
      continue;
    for (yaml_node_pair_t *op = ops->data.mapping.pairs.start; op < ops->data.mapping.pairs.top;
         op++) {
      const char *m = (char *)yaml_document_get_node(&doc, op->key)->data.scalar.value;
      if (strcmp(m, "parameters") == 0 || strcmp(m, "summary") == 0 || ndoc == MAX_OPS)
        continue;
      snprintf(doc_ops[ndoc].method, sizeof doc_ops[ndoc].method, "%s", m);
      upper(doc_ops[ndoc].method);
      snprintf(doc_ops[ndoc].path, sizeof doc_ops[ndoc].path, "%s",
               (char *)path->data.scalar.value);
      ndoc++;
    }
  }
  yaml_document_delete(&doc);
  return r;
}

/* The route table marks greedy params "{ref*}"; OpenAPI writes "{ref}". */
static bool same_path(const char *doc, const char *pattern)
{
  for (; *doc && *pattern; doc++, pattern++) {
    if (pattern[0] == '*' && pattern[1] == '}')
      pattern++;
    if (*doc != *pattern)
      return false;
  }
  return *doc == *pattern;
}

int main(int argc, char **argv)
{
  const char *file = argc > 1 ? argv[1] : "docs/openapi.yaml";
  is_int(load(file), 0, "%s parses", file);
  ok(ndoc > 0, "it has %d operations", ndoc);

  for (size_t i = 0; i < api_routes_count; i++) {
    bool found = false;
    for (int j = 0; j < ndoc; j++)
      found |= !strcmp(doc_ops[j].method, api_routes[i].method) &&
               same_path(doc_ops[j].path, api_routes[i].pattern);
    ok(found, "route %s %s is documented", api_routes[i].method, api_routes[i].pattern);
  }
  for (int j = 0; j < ndoc; j++) {
    bool found = !strcmp(doc_ops[j].method, "HEAD"); /* answered for every GET */
    for (size_t i = 0; i < api_routes_count; i++)
      found |= !strcmp(doc_ops[j].method, api_routes[i].method) &&
               same_path(doc_ops[j].path, api_routes[i].pattern);
    ok(found, "documented %s %s is served", doc_ops[j].method, doc_ops[j].path);
  }
  return tap_done();
}
