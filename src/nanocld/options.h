/* nanocld's command line, with NANOCL_* environment variables as fallbacks. */
#pragma once

#include <limits.h>
#include <stddef.h>

#include "base/hosturl.h"
#include "image/service.h"

#define NANOCLD_MAX_HOSTS 8

struct nanocld_options {
  struct nc_host_url hosts[NANOCLD_MAX_HOSTS];
  size_t nhosts;
  char state_dir[PATH_MAX];
  char run_dir[PATH_MAX];
  char config_dir[PATH_MAX];
  int log_level;
  struct image_settings images;
  char runtime[PATH_MAX]; /* "", "runc", "crun" or a path */
  char shim[PATH_MAX];    /* "" = beside nanocld */
  char network_pool[32];  /* CIDR */
  char nft_table[33];
  char dns_upstream[400]; /* "" = the host's resolvers */
};

/* Returns 0 to run, 1 when --help/--version was printed (exit 0), 2 on a usage
 * error (already printed). */
int nanocld_options_parse(int argc, char **argv, struct nanocld_options *o);
