/* Every route nanocld serves. docs/openapi.yaml describes exactly these; the
 * unit test test_openapi checks the two agree. HEAD is answered for every GET. */
#include "api/api-internal.h"

const struct api_route api_routes[] = {
  { "GET", "/_ping", api_ping },
  { "GET", "/version", api_version },
  { "GET", "/v1/namespaces", api_namespace_list },
  { "POST", "/v1/namespaces", api_namespace_create },
  { "GET", "/v1/namespaces/{name}", api_namespace_inspect },
  { "DELETE", "/v1/namespaces/{name}", api_namespace_delete },
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
