/* Every route nanocld serves. docs/openapi.yaml describes exactly these; the
 * unit test test_openapi checks the two agree. HEAD is answered for every GET. */
#include "api/api-internal.h"

/* First match wins: a literal route before a greedy one that could take it. */
const struct api_route api_routes[] = {
  { "GET", "/_ping", api_ping, 0 },
  { "GET", "/version", api_version, 0 },
  { "GET", "/v1/namespaces", api_namespace_list, 0 },
  { "POST", "/v1/namespaces", api_namespace_create, 0 },
  { "GET", "/v1/namespaces/{name}", api_namespace_inspect, 0 },
  { "DELETE", "/v1/namespaces/{name}", api_namespace_delete, 0 },
  { "GET", "/v1/images", api_image_list, 0 },
  { "POST", "/v1/images/pull", api_image_pull, 0 },
  { "POST", "/v1/images/import", api_image_import, API_ROUTE_UPLOAD },
  { "GET", "/v1/images/{ref*}/history", api_image_history, 0 },
  { "POST", "/v1/images/{ref*}/tag", api_image_tag, 0 },
  { "GET", "/v1/images/{ref*}", api_image_inspect, 0 },
  { "DELETE", "/v1/images/{ref*}", api_image_delete, 0 },
  { "GET", "/v1/containers", api_container_list, 0 },
  { "POST", "/v1/containers", api_container_create, 0 },
  { "GET", "/v1/containers/{name}", api_container_inspect, 0 },
  { "DELETE", "/v1/containers/{name}", api_container_delete, 0 },
  { "POST", "/v1/containers/{name}/start", api_container_start, 0 },
  { "POST", "/v1/containers/{name}/stop", api_container_stop, 0 },
  { "POST", "/v1/containers/{name}/restart", api_container_restart, 0 },
  { "POST", "/v1/containers/{name}/kill", api_container_kill, 0 },
  { "POST", "/v1/containers/{name}/wait", api_container_wait, 0 },
  { "GET", "/v1/containers/{name}/logs", api_container_logs, 0 },
  { "POST", "/v1/containers/{name}/exec", api_container_exec, 0 },
  { "GET", "/v1/clusters", api_cluster_list, 0 },
  { "POST", "/v1/clusters", api_cluster_create, 0 },
  { "GET", "/v1/clusters/{name}", api_cluster_inspect, 0 },
  { "DELETE", "/v1/clusters/{name}", api_cluster_delete, 0 },
  { "POST", "/v1/clusters/{name}/start", api_cluster_start, 0 },
  { "GET", "/v1/clusters/{cluster}/variables", api_variable_list, 0 },
  { "POST", "/v1/clusters/{cluster}/variables", api_variable_create, 0 },
  { "GET", "/v1/clusters/{cluster}/variables/{name}", api_variable_inspect, 0 },
  { "DELETE", "/v1/clusters/{cluster}/variables/{name}", api_variable_delete, 0 },
  { "GET", "/v1/clusters/{cluster}/networks", api_network_list, 0 },
  { "POST", "/v1/clusters/{cluster}/networks", api_network_create, 0 },
  { "GET", "/v1/clusters/{cluster}/networks/{name}", api_network_inspect, 0 },
  { "DELETE", "/v1/clusters/{cluster}/networks/{name}", api_network_delete, 0 },
  { "POST", "/v1/login", api_login, 0 },
  { "POST", "/v1/logout", api_logout, 0 },
  { "GET", "/v1/system/df", api_system_df, 0 },
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
