/* confab-uv-source.h: a libuv loop run as one GSource of a GLib main context. */
#pragma once

#include <glib.h>
#include <uv.h>

G_BEGIN_DECLS

/* Creates a GSource that owns a new uv_loop_t and runs it without blocking
 * whenever its backend (one epoll fd) is readable or one of its timers is due.
 * GLib then polls one fd for the whole loop however many handles it holds.
 * The source's callback, if any (a GSourceFunc; its return value is ignored),
 * runs after every round of the uv loop. Returns NULL when libuv cannot create
 * the loop. */
GSource *confab_uv_source_new (void);

/* The loop the source runs, for handing to libraries as a foreign loop. */
uv_loop_t *confab_uv_source_get_loop (GSource *source);

/* Runs the loop on its own until nothing keeps it alive any more (handles
 * still closing, say), for at most @max_rounds rounds of at most 100 ms
 * each. Returns TRUE when the loop ended. For teardown, after the libraries
 * using the loop have let go of it. */
gboolean confab_uv_source_drain (GSource *source, guint max_rounds);

G_END_DECLS
