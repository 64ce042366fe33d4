#include "progress.h"

#include "output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 256
#define BAR_WIDTH 30

struct layer {
  char id[13]; /* short digest, as Docker shows it */
  char phase[16];
  long long current, total;
};

struct progress {
  bool tty;
  FILE *out;
  struct layer layers[MAX_LAYERS];
  int n;
  int drawn; /* lines on screen to redraw */
  json_t *image;
  char error[1024];
};

struct progress *progress_new(bool tty)
{
  struct progress *p = calloc(1, sizeof *p);
  if (p) {
    p->tty = tty;
    p->out = stdout;
  }
  return p;
}

void progress_set_output(struct progress *p, FILE *out)
{
  if (p)
    p->out = out;
}

void progress_free(struct progress *p)
{
  if (!p)
    return;
  json_decref(p->image);
  free(p);
}

json_t *progress_result(struct progress *p, const char **error)
{
  *error = p->error[0] ? p->error : NULL;
  return p->image;
}

static struct layer *layer_for(struct progress *p, const char *digest)
{
  const char *hex = strncmp(digest, "sha256:", 7) ? digest : digest + 7;
  for (int i = 0; i < p->n; i++)
    if (!strncmp(p->layers[i].id, hex, 12))
      return &p->layers[i];
  if (p->n == MAX_LAYERS)
    return NULL;
  struct layer *l = &p->layers[p->n++];
  snprintf(l->id, sizeof l->id, "%.12s", hex);
  return l;
}

static const char *label(const char *phase)
{
  static const struct {
    const char *phase, *text;
  } map[] = { { "waiting", "Waiting" },
              { "downloading", "Downloading" },
              { "downloaded", "Download complete" },
              { "exists", "Already exists" },
              { "extracting", "Extracting" },
              { "extracted", "Pull complete" } };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(map[i].phase, phase))
      return map[i].text;
  return phase;
}

static void draw_line(FILE *f, const struct layer *l)
{
  fprintf(f, "\r\033[2K%s: %-17s", l->id, label(l->phase));
  bool moving = !strcmp(l->phase, "downloading") || !strcmp(l->phase, "extracting");
  if (moving && l->total > 0) {
    int done = (int)(BAR_WIDTH * (l->current > l->total ? l->total : l->current) / l->total);
    char cur[32], tot[32];
    out_size(l->current, cur, sizeof cur);
    out_size(l->total, tot, sizeof tot);
    fprintf(f, " [");
    for (int i = 0; i < BAR_WIDTH; i++)
      fputc(i < done ? '=' : (i == done ? '>' : ' '), f);
    fprintf(f, "] %s/%s", cur, tot);
  }
  fputc('\n', f);
}

static void redraw(struct progress *p)
{
  if (p->drawn)
    fprintf(p->out, "\033[%dA", p->drawn); /* back to the first layer line */
  for (int i = 0; i < p->n; i++)
    draw_line(p->out, &p->layers[i]);
  p->drawn = p->n;
  fflush(p->out);
}

int progress_event(struct progress *p, json_t *ev)
{
  const char *status = json_string_value(json_object_get(ev, "status"));
  if (!status)
    return 0;
  if (!strcmp(status, "done")) {
    json_decref(p->image);
    p->image = json_incref(json_object_get(ev, "image"));
    return 1;
  }
  if (!strcmp(status, "error")) {
    snprintf(p->error, sizeof p->error, "%s",
             json_string_value(json_object_get(ev, "error")) ?: "failed");
    return 1;
  }
  if (!strcmp(status, "resolving")) {
    fprintf(p->out, "Pulling %s\n", json_string_value(json_object_get(ev, "ref")) ?: "");
    fflush(p->out);
    return 0;
  }
  if (!strcmp(status, "resolved") && !p->tty) {
    fprintf(p->out, "Digest: %s\n", json_string_value(json_object_get(ev, "digest")) ?: "");
    return 0;
  }
  if (strcmp(status, "layer") != 0)
    return 0;

  struct layer *l = layer_for(p, json_string_value(json_object_get(ev, "digest")) ?: "");
  const char *phase = json_string_value(json_object_get(ev, "phase")) ?: "";
  if (!l)
    return 0;
  bool changed = strcmp(l->phase, phase) != 0;
  snprintf(l->phase, sizeof l->phase, "%s", phase);
  if (json_object_get(ev, "current")) {
    l->current = json_integer_value(json_object_get(ev, "current"));
    l->total = json_integer_value(json_object_get(ev, "total"));
  }
  if (p->tty) {
    redraw(p);
  } else if (changed) {
    fprintf(p->out, "%s: %s\n", l->id, label(phase));
    fflush(p->out);
  }
  return 0;
}
