/* Networks, the addresses they gave to containers, and published ports, in the SQLite
 * backend. Address allocation runs inside the caller's write transaction, which SQLite
 * serialises (BEGIN IMMEDIATE): two concurrent creates can never get the same address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite-internal.h"

#define NETWORK_COLUMNS                                                                            \
  "id, namespace, cluster, name, bridge, subnet, prefix, gateway, created_at"

static uint32_t mask_of(int prefix)
{
  return prefix <= 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static void row_to_network(sqlite3_stmt *st, struct store_network *n)
{
  memset(n, 0, sizeof *n);
  sq_text(n->id, sizeof n->id, st, 0);
  sq_text(n->namespace_, sizeof n->namespace_, st, 1);
  sq_text(n->cluster, sizeof n->cluster, st, 2);
  sq_text(n->name, sizeof n->name, st, 3);
  sq_text(n->bridge, sizeof n->bridge, st, 4);
  n->subnet = (uint32_t)sqlite3_column_int64(st, 5);
  n->prefix = sqlite3_column_int(st, 6);
  n->gateway = (uint32_t)sqlite3_column_int64(st, 7);
  n->created_at = sqlite3_column_int64(st, 8);
}

/* Another stored network whose subnet overlaps n's: NC_ERR_CONFLICT naming it. */
static int check_overlap(struct sq_store *s, const struct store_network *n, struct nc_err *err)
{
  sqlite3_stmt *st = sq_stmt(s, SQ_NETWORK_SUBNETS,
                             "SELECT namespace, cluster, name, subnet, prefix FROM networks", err);
  if (!st)
    return -1;
  int rc, r = 0;
  while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    uint32_t subnet = (uint32_t)sqlite3_column_int64(st, 3);
    int prefix = sqlite3_column_int(st, 4);
    uint32_t m = mask_of(prefix < n->prefix ? prefix : n->prefix);
    if ((subnet & m) == (n->subnet & m))
      r = nc_err_set(err, NC_ERR_CONFLICT,
                     "subnet %u.%u.%u.%u/%d overlaps network '%s' of cluster '%s' "
                     "(namespace '%s')",
                     n->subnet >> 24, (n->subnet >> 16) & 255, (n->subnet >> 8) & 255,
                     n->subnet & 255, n->prefix, sqlite3_column_text(st, 2),
                     sqlite3_column_text(st, 1), sqlite3_column_text(st, 0));
  }
  sqlite3_reset(st);
  if (r == 0 && rc != SQLITE_DONE)
    return sq_fail(s, rc, err, "reading networks", NULL);
  return r;
}

int sq_network_insert(struct store_tx *tx, const struct store_network *n, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  if (check_overlap(s, n, err) < 0)
    return -1;
  sqlite3_stmt *st = sq_stmt(s, SQ_NETWORK_INSERT,
                             "INSERT INTO networks (" NETWORK_COLUMNS ") VALUES "
                             "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, n->namespace_, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, n->cluster, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, n->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, n->bridge, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, n->subnet);
  sqlite3_bind_int(st, 7, n->prefix);
  sqlite3_bind_int64(st, 8, n->gateway);
  sqlite3_bind_int64(st, 9, n->created_at);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return 0;
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "cluster '%s' does not exist in namespace '%s'",
                      n->cluster, n->namespace_);
  char msg[200];
  snprintf(msg, sizeof msg, "network '%s' already exists in cluster '%s'", n->name, n->cluster);
  return sq_fail(s, rc, err, "storing a network", msg);
}

/* One network by the statement's bindings: 0, or NC_ERR_NOT_FOUND with `missing`. */
static int get_one(struct sq_store *s, sqlite3_stmt *st, struct store_network *out,
                   const char *missing, struct nc_err *err)
{
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    row_to_network(st, out);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return 0;
  if (rc == SQLITE_DONE)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "%s", missing);
  return sq_fail(s, rc, err, "reading a network", NULL);
}

int sq_network_get(struct store_tx *tx, const char *ns, const char *cluster, const char *name,
                   struct store_network *out, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_NETWORK_GET,
                             "SELECT " NETWORK_COLUMNS " FROM networks "
                             "WHERE namespace = ?1 AND cluster = ?2 AND name = ?3",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, cluster, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
  char missing[200];
  snprintf(missing, sizeof missing, "network '%s' does not exist in cluster '%s'", name,
           cluster);
  return get_one(s, st, out, missing, err);
}

int sq_network_get_id(struct store_tx *tx, const char *id, struct store_network *out,
                      struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_NETWORK_GET_ID,
                             "SELECT " NETWORK_COLUMNS " FROM networks WHERE id = ?1", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  char missing[100];
  snprintf(missing, sizeof missing, "network %.12s does not exist", id);
  return get_one(s, st, out, missing, err);
}

static int collect_network(sqlite3_stmt *st, void *item)
{
  row_to_network(st, item);
  return 0;
}

int sq_network_list(struct store_tx *tx, const char *ns, const char *cluster,
                    struct store_network_list *out, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  /* NULL binds match everything: one statement for the three scopes. */
  sqlite3_stmt *st = sq_stmt(s, SQ_NETWORK_LIST,
                             "SELECT " NETWORK_COLUMNS " FROM networks "
                             "WHERE (?1 IS NULL OR namespace = ?1) "
                             "AND (?2 IS NULL OR cluster = ?2) "
                             "ORDER BY namespace, cluster, name",
                             err);
  if (!st)
    return -1;
  if (ns)
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  if (cluster)
    sqlite3_bind_text(st, 2, cluster, -1, SQLITE_STATIC);
  struct store_network_list list = { NULL, 0 };
  if (sq_collect(s, st, (void **)&list.items, &list.len, sizeof *list.items, collect_network, "listing networks",
                 err) < 0) {
    store_network_list_free(&list);
    return -1;
  }
  *out = list;
  return 0;
}

int sq_network_delete(struct store_tx *tx, const char *id, struct nc_err *err)
{
  int n = sq_exec_key(sq_from_tx(tx), SQ_NETWORK_DELETE, "DELETE FROM networks WHERE id = ?1",
                      id, "removing a network",
                      "the network still has containers attached; remove them first", err);
  if (n == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "network %.12s does not exist", id);
  return n < 0 ? -1 : 0;
}

int sq_attachment_add(struct store_tx *tx, const struct store_network *n,
                      const char *container_id, uint32_t *addr, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_ATTACH_ADDRS,
                             "SELECT addr FROM network_addrs WHERE network_id = ?1 ORDER BY addr",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
  /* The lowest address not taken: walk the taken ones in order. */
  uint32_t first = n->subnet + 1, last = (n->subnet | ~mask_of(n->prefix)) - 1;
  uint32_t want = first;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (want == n->gateway)
      want++;
    uint32_t taken = (uint32_t)sqlite3_column_int64(st, 0);
    if (taken > want)
      break;
    if (taken == want)
      want++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return sq_fail(s, rc, err, "reading addresses", NULL);
  if (want == n->gateway)
    want++;
  if (want > last)
    return nc_err_set(err, NC_ERR_CONFLICT,
                      "network '%s' has no address left (all %u of its /%d are taken)", n->name,
                      last - first, n->prefix);
  st = sq_stmt(s, SQ_ATTACH_INSERT,
               "INSERT INTO network_addrs (network_id, addr, container_id) VALUES (?1, ?2, ?3)",
               err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, want);
  sqlite3_bind_text(st, 3, container_id, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return sq_fail(s, rc, err, "giving an address",
                   "the container or the network is gone, or it has an address already");
  *addr = want;
  return 0;
}

#define ATTACH_SELECT                                                                              \
  "SELECT a.container_id, c.name, a.network_id, a.addr, c.cargo FROM network_addrs a "            \
  "JOIN containers c ON c.id = a.container_id "

static void row_to_attachment(sqlite3_stmt *st, struct store_attachment *a)
{
  sq_text(a->container_id, sizeof a->container_id, st, 0);
  sq_text(a->container_name, sizeof a->container_name, st, 1);
  sq_text(a->network_id, sizeof a->network_id, st, 2);
  a->addr = (uint32_t)sqlite3_column_int64(st, 3);
  sq_text(a->cargo, sizeof a->cargo, st, 4);
}

static int collect_attachment(sqlite3_stmt *st, void *item)
{
  row_to_attachment(st, item);
  return 0;
}

int sq_attachment_list(struct store_tx *tx, const char *network_id,
                       struct store_attachment_list *out, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_ATTACH_LIST,
                             ATTACH_SELECT "WHERE (?1 IS NULL OR a.network_id = ?1) "
                                           "ORDER BY a.network_id, a.addr",
                             err);
  if (!st)
    return -1;
  if (network_id)
    sqlite3_bind_text(st, 1, network_id, -1, SQLITE_STATIC);
  struct store_attachment_list list = { NULL, 0 };
  if (sq_collect(s, st, (void **)&list.items, &list.len, sizeof *list.items, collect_attachment, "listing addresses",
                 err) < 0) {
    store_attachment_list_free(&list);
    return -1;
  }
  *out = list;
  return 0;
}

int sq_attachment_get(struct store_tx *tx, const char *container_id,
                      struct store_attachment *out, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_ATTACH_GET, ATTACH_SELECT "WHERE a.container_id = ?1", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, container_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    row_to_attachment(st, out);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return 0;
  if (rc == SQLITE_DONE)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "container %.12s is on no network", container_id);
  return sq_fail(s, rc, err, "reading an address", NULL);
}

int sq_port_insert(struct store_tx *tx, const struct store_port *p, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  /* Same protocol and port, and the same address or one of them "every address". */
  sqlite3_stmt *st = sq_stmt(s, SQ_PORT_CLASH,
                             "SELECT c.name FROM published_ports p "
                             "JOIN containers c ON c.id = p.container_id "
                             "WHERE p.proto = ?3 AND p.host_port = ?2 "
                             "AND (p.host_ip = ?1 OR p.host_ip = 0 OR ?1 = 0) LIMIT 1",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_int64(st, 1, p->host_ip);
  sqlite3_bind_int(st, 2, p->host_port);
  sqlite3_bind_text(st, 3, p->proto, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  char holder[STORE_NAME_MAX] = "";
  if (rc == SQLITE_ROW)
    sq_text(holder, sizeof holder, st, 0);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return nc_err_set(err, NC_ERR_CONFLICT, "port %u/%s is already published by container '%s'",
                      p->host_port, p->proto, holder);
  if (rc != SQLITE_DONE)
    return sq_fail(s, rc, err, "reading published ports", NULL);
  st = sq_stmt(s, SQ_PORT_INSERT,
               "INSERT INTO published_ports (container_id, host_ip, host_port, proto, port) "
               "VALUES (?1, ?2, ?3, ?4, ?5)",
               err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, p->container_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, p->host_ip);
  sqlite3_bind_int(st, 3, p->host_port);
  sqlite3_bind_text(st, 4, p->proto, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 5, p->port);
  rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    char msg[100];
    snprintf(msg, sizeof msg, "port %u/%s is published twice", p->host_port, p->proto);
    return sq_fail(s, rc, err, "storing a published port", msg);
  }
  return 0;
}

static int collect_port(sqlite3_stmt *st, void *item)
{
  struct store_port *p = item;
  sq_text(p->container_id, sizeof p->container_id, st, 0);
  p->host_ip = (uint32_t)sqlite3_column_int64(st, 1);
  p->host_port = (uint16_t)sqlite3_column_int(st, 2);
  sq_text(p->proto, sizeof p->proto, st, 3);
  p->port = (uint16_t)sqlite3_column_int(st, 4);
  return 0;
}

int sq_port_list(struct store_tx *tx, const char *container_id, struct store_port_list *out,
                 struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_PORT_LIST,
                             "SELECT container_id, host_ip, host_port, proto, port "
                             "FROM published_ports WHERE (?1 IS NULL OR container_id = ?1) "
                             "ORDER BY host_port, proto",
                             err);
  if (!st)
    return -1;
  if (container_id)
    sqlite3_bind_text(st, 1, container_id, -1, SQLITE_STATIC);
  struct store_port_list list = { NULL, 0 };
  if (sq_collect(s, st, (void **)&list.items, &list.len, sizeof *list.items, collect_port, "listing published ports",
                 err) < 0) {
    store_port_list_free(&list);
    return -1;
  }
  *out = list;
  return 0;
}
