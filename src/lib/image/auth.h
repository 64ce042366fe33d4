/* Stored registry credentials (image/auth.c). */
#pragma once

#include "image/registry.h"
#include "image/service.h"

/* 1 and *out filled when credentials for `registry` are stored, else 0. */
int image_auth_lookup(struct image_service *svc, const char *registry,
                      struct registry_creds *out);
