/* The SQLite store through the store interface, on a temporary file. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/cluster.h"
#include "model/namespace.h"
#include "store/store.h"
#include "tap.h"

static char dir[] = "/tmp/nanocl-test-store-XXXXXX";
static char db[256];

static struct store *open_store(void)
{
  struct store *s = NULL;
  struct nc_err err = NC_ERR_INIT;
  if (store_open(db, &s, &err) < 0)
    printf("# store_open: %s\n", err.msg);
  return s;
}

static int count_namespaces(struct store *s)
{
  struct store_namespace_list l;
  struct nc_err err = NC_ERR_INIT;
  if (model_namespace_list(s, &l, &err) < 0)
    return -1;
  int n = (int)l.len;
  store_namespace_list_free(&l);
  return n;
}

static void *creator(void *arg)
{
  struct store *s = arg;
  static int next;
  for (int i = 0; i < 50; i++) {
    char name[32];
    snprintf(name, sizeof name, "t%d", __atomic_fetch_add(&next, 1, __ATOMIC_SEQ_CST));
    struct nc_err err = NC_ERR_INIT;
    if (model_namespace_create(s, name, NULL, &err) < 0)
      printf("# create %s: %s\n", name, err.msg);
  }
  return NULL;
}

/* Clusters, networks, addresses and ports: the rules the network service relies on. */
static void test_networks(struct store *s)
{
  struct nc_err err = NC_ERR_INIT;
  struct store_tx *tx;
  struct store_cluster c;
  is_int(model_cluster_create(s, "global", "dev", &c, &err), 0, "cluster dev");
  is_int(model_cluster_create(s, "global", "dev", &c, &err), -1, "twice refused");
  is_int(err.kind, NC_ERR_CONFLICT, "as conflict");
  is_int(model_variable_set(s, "global", "dev", "CLUSTER", "DEV", &err), 0, "variable set");
  is_int(model_variable_set(s, "global", "dev", "1X", "v", &err), -1, "bad variable name");
  struct store_variable_list vars;
  is_int(model_variable_list(s, "global", "dev", &vars, &err), 0, "variables listed");
  char *out = NULL;
  is_int(model_variables_render(&vars, "dev", "C={{ vars.CLUSTER }} {{cargoes.x.ip}}", &out,
                                &err), 0, "render");
  is_str(out, "C=DEV {{cargoes.x.ip}}", "vars replaced, other templates kept");
  free(out);
  is_int(model_variables_render(&vars, "dev", "{{vars.NOPE}}", &out, &err), -1,
         "a missing variable is an error");
  ok(strstr(err.msg, "NOPE") && strstr(err.msg, "dev"), "naming it: %s", err.msg);
  store_variable_list_free(&vars);

  struct store_network n = { .id = "1111111111111111111111111111111111111111111111111111111111111111",
                             .namespace_ = "global", .cluster = "dev", .name = "front",
                             .bridge = "nc-11111111", .subnet = 0x0a000000, .prefix = 30,
                             .gateway = 0x0a000001 };
  struct store_network m = n;
  memset(m.id, '2', 64);
  snprintf(m.name, sizeof m.name, "back");
  snprintf(m.bridge, sizeof m.bridge, "nc-22222222");
  m.subnet = 0x0a000000;
  m.prefix = 24;
  store_begin(s, STORE_TX_WRITE, &tx, &err);
  is_int(store_network_insert(tx, &n, &err), 0, "network 10.0.0.0/30");
  is_int(store_network_insert(tx, &m, &err), -1, "an overlapping one refused");
  ok(strstr(err.msg, "overlaps") && strstr(err.msg, "front"), "naming it: %s", err.msg);
  char empty_obj[] = "{}", empty_arr[] = "[]";
  struct store_image img = { .id = "sha256:img", .manifest_digest = "sha256:m", .os = "linux",
                             .architecture = "amd64", .manifest = empty_obj,
                             .config = empty_obj, .layers = empty_arr };
  is_int(store_image_put(tx, &img, &err), 0, "an image for the containers");
  uint32_t addrs[3] = { 0 };
  for (int i = 0; i < 3; i++) {
    struct store_container ct = { .namespace_ = "global", .cluster = "dev", .image = "i",
                                  .image_id = "sha256:img", .state = "created", .spec = empty_obj };
    memset(ct.id, 'a' + i, 64);
    snprintf(ct.name, sizeof ct.name, "c%d", i);
    is_int(store_container_insert(tx, &ct, &err), 0, "container %d", i);
    int r = store_attachment_add(tx, &n, ct.id, &addrs[i], &err);
    if (i < 1)
      is_int(r, 0, "address %d given", i);
    else
      ok(r < 0 && err.kind == NC_ERR_CONFLICT && strstr(err.msg, "no address left"),
         "a /30 has one besides the gateway: %s", err.msg);
  }
  is_int(addrs[0], 0x0a000002, "the first after the gateway");
  struct store_port p = { .host_port = 8080, .proto = "tcp", .port = 80 };
  memset(p.container_id, 'a', 64);
  is_int(store_port_insert(tx, &p, &err), 0, "port 8080/tcp");
  struct store_port q = p;
  memset(q.container_id, 'b', 64);
  q.host_ip = 0x7f000001;
  is_int(store_port_insert(tx, &q, &err), -1, "the same port on one address refused");
  ok(strstr(err.msg, "c0") != NULL, "naming the holder: %s", err.msg);
  snprintf(q.proto, sizeof q.proto, "udp");
  is_int(store_port_insert(tx, &q, &err), 0, "udp is another port");
  char a_id[65];
  memset(a_id, 'a', 64);
  a_id[64] = '\0';
  is_int(store_network_delete(tx, n.id, &err), -1, "a network in use cannot go");
  is_int(store_container_delete(tx, a_id, &err), 0, "its container goes");
  struct store_port_list ports;
  is_int(store_port_list(tx, NULL, &ports, &err), 0, "ports listed");
  is_int((int)ports.len, 1, "the container's ports went with it");
  store_port_list_free(&ports);
  struct store_container ct = { .namespace_ = "global", .cluster = "dev", .image = "i",
                                .image_id = "sha256:img", .state = "created", .spec = empty_obj };
  memset(ct.id, 'd', 64);
  snprintf(ct.name, sizeof ct.name, "c3");
  store_container_insert(tx, &ct, &err);
  uint32_t again = 0;
  is_int(store_attachment_add(tx, &n, ct.id, &again, &err), 0, "a freed address");
  is_int(again, 0x0a000002, "is given again");
  store_rollback(tx);
  is_int(model_cluster_delete(s, "global", "dev", &err), 0, "cluster removed");
}

int main(void)
{
  struct nc_err err = NC_ERR_INIT;
  struct store_namespace ns;
  struct store_tx *tx;

  if (!mkdtemp(dir))
    return 99;
  snprintf(db, sizeof db, "sqlite://%s/state.db", dir);

  /* Migrations on a fresh store. */
  struct store *s = open_store();
  ok(s != NULL, "a fresh store opens");
  is_int(store_schema_version(s), 5, "migrated to the latest schema");
  is_str(store_backend_name(s), "sqlite", "backend name");
  is_int(model_namespace_get(s, "global", &ns, &err), 0, "'global' exists on a fresh store");
  is_int(count_namespaces(s), 1, "and only it");

  /* A rolled-back transaction leaves nothing. */
  struct store_namespace tmp = { .name = "rolled", .created_at = 1 };
  is_int(store_begin(s, STORE_TX_WRITE, &tx, &err), 0, "begin");
  is_int(store_namespace_insert(tx, &tmp, &err), 0, "insert inside the transaction");
  is_int(store_namespace_get(tx, "rolled", &ns, &err), 0, "visible inside it");
  store_rollback(tx);
  is_int(model_namespace_get(s, "rolled", &ns, &err), -1, "gone after rollback");
  is_int(err.kind, NC_ERR_NOT_FOUND, "as not_found");
  ok(strstr(err.msg, "'rolled'") != NULL, "message names it: %s", err.msg);

  /* Constraint errors. */
  is_int(model_namespace_create(s, "dev", &ns, &err), 0, "create dev");
  ok(ns.created_at > 1600000000, "created_at is set");
  is_int(model_namespace_create(s, "dev", NULL, &err), -1, "duplicate refused");
  is_int(err.kind, NC_ERR_CONFLICT, "as conflict");
  ok(strstr(err.msg, "already exists") != NULL, "message: %s", err.msg);
  is_int(model_namespace_create(s, "Bad_Name", NULL, &err), -1, "invalid name refused");
  is_int(err.kind, NC_ERR_INVALID, "as invalid");
  is_int(model_namespace_delete(s, "global", &err), -1, "global cannot be removed");
  is_int(err.kind, NC_ERR_CONFLICT, "as conflict");
  is_int(model_namespace_delete(s, "nope", &err), -1, "removing a missing namespace fails");
  is_int(err.kind, NC_ERR_NOT_FOUND, "as not_found");

  /* A failed statement inside a transaction does not poison the next one. */
  is_int(store_begin(s, STORE_TX_WRITE, &tx, &err), 0, "begin again");
  struct store_namespace dup = { .name = "dev", .created_at = 1 };
  is_int(store_namespace_insert(tx, &dup, &err), -1, "duplicate inside a transaction");
  store_rollback(tx);
  is_int(model_namespace_create(s, "after", NULL, &err), 0, "the store works after a rollback");

  /* Volatile writes (not fsync'd) commit and roll back like the others, and leave the
   * connection as it was for the next ones. */
  struct store_namespace vol = { .name = "volatile", .created_at = 1 };
  is_int(store_begin(s, STORE_TX_WRITE_VOLATILE, &tx, &err), 0, "begin volatile");
  is_int(store_namespace_insert(tx, &vol, &err), 0, "insert in it");
  store_rollback(tx);
  is_int(model_namespace_get(s, "volatile", &ns, &err), -1, "gone after its rollback");
  is_int(store_begin(s, STORE_TX_WRITE_VOLATILE, &tx, &err), 0, "begin volatile again");
  is_int(store_namespace_insert(tx, &vol, &err), 0, "insert in it");
  is_int(store_commit(tx, &err), 0, "commit it");
  is_int(model_namespace_get(s, "volatile", &ns, &err), 0, "there after its commit");
  is_int(model_namespace_delete(s, "volatile", &err), 0, "a durable write after it");

  test_networks(s);

  /* Concurrent writers are serialised, none lost. */
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&th[i], NULL, creator, s);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  is_int(count_namespaces(s), 3 + 200, "200 concurrent creates all stored");
  store_close(s);

  /* Reopening keeps everything and migrates nothing. */
  s = open_store();
  ok(s != NULL, "reopens");
  is_int(count_namespaces(s), 203, "everything is still there");
  is_int(model_namespace_delete(s, "dev", &err), 0, "remove dev");
  store_close(s);

  /* A store written by a newer nanocld is refused, untouched. */
  sqlite3 *raw;
  char path[300];
  snprintf(path, sizeof path, "%s/state.db", dir);
  sqlite3_open(path, &raw);
  sqlite3_exec(raw, "PRAGMA user_version=99", NULL, NULL, NULL);
  sqlite3_close(raw);
  s = NULL;
  is_int(store_open(db, &s, &err), -1, "a newer schema is refused");
  ok(strstr(err.msg, "99") && strstr(err.msg, "newer"), "message: %s", err.msg);

  is_int(store_open("postgres://x", &s, &err), -1, "an unknown backend is refused");
  is_int(err.kind, NC_ERR_INVALID, "as invalid");

  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", dir);
  return tap_done();
}
