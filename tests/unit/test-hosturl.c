#include "base/hosturl.h"
#include "tap.h"

static void good(const char *url, enum nc_host_kind kind, const char *what, unsigned port)
{
  struct nc_host_url h;
  struct nc_err err = NC_ERR_INIT;
  int r = nc_host_url_parse(url, &h, &err);
  is_int(r, 0, "%s parses", url);
  if (r < 0)
    return;
  is_int(h.kind, kind, "%s kind", url);
  is_str(kind == NC_HOST_UNIX ? h.path : h.host, what, "%s address", url);
  if (kind == NC_HOST_TCP)
    is_int(h.port, port, "%s port", url);
  char back[400];
  nc_host_url_format(&h, back, sizeof back);
  is_str(back, url, "%s formats back the same", url);
}

static void bad(const char *url, const char *needle)
{
  struct nc_host_url h;
  struct nc_err err = NC_ERR_INIT;
  is_int(nc_host_url_parse(url, &h, &err), -1, "'%s' refused", url);
  is_int(err.kind, NC_ERR_INVALID, "as invalid");
  ok(strstr(err.msg, needle) != NULL, "message mentions '%s': %s", needle, err.msg);
}

int main(void)
{
  good("unix:///run/nanocl/nanocl.sock", NC_HOST_UNIX, "/run/nanocl/nanocl.sock", 0);
  good("tcp://127.0.0.1:8585", NC_HOST_TCP, "127.0.0.1", 8585);
  good("tcp://localhost:1", NC_HOST_TCP, "localhost", 1);
  good("tcp://[::1]:65535", NC_HOST_TCP, "::1", 65535);

  bad("unix://relative.sock", "absolute");
  bad("http://127.0.0.1:80", "expected");
  bad("tcp://127.0.0.1", "HOST:PORT");
  bad("tcp://127.0.0.1:0", "port");
  bad("tcp://127.0.0.1:65536", "port");
  bad("tcp://127.0.0.1:80x", "port");
  bad("tcp://:80", "host");
  bad("tcp://::1:80", "brackets");
  bad("tcp://a b:80", "character");
  char longpath[200] = "unix:///";
  memset(longpath + 8, 'a', 150);
  longpath[158] = '\0';
  bad(longpath, "longer");
  bad("", "expected");
  return tap_done();
}
