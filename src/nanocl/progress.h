/* Rendering the JSON-line progress of a pull or import: one bar per layer on a
 * terminal (redrawn in place), one line per change of phase otherwise. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct progress;

struct progress *progress_new(bool tty);
/* Where it draws (default stdout). */
void progress_set_output(struct progress *p, FILE *out);
/* Feeds one event; returns 0, or 1 for the final "done"/"error" line. */
int progress_event(struct progress *p, json_t *event);
/* After the stream: the image of "done" (borrowed), or NULL and the error text. */
json_t *progress_result(struct progress *p, const char **error);
void progress_free(struct progress *p);
