/* confab-uv-source.c: a libuv loop run as one GSource of a GLib main context.
 *
 * Why: libwebsockets' GLib event library gives every connection its own
 * GSource, so every GLib iteration polls, prepares and checks every
 * connection (half of the relay's CPU at 160 connections). libuv keeps its fds
 * in one epoll set and exposes it as a single fd, so GLib polls just that:
 * the cost of an iteration no longer grows with the number of connections,
 * and everything else (GLib timers, the NATS eventfd) stays on GLib. */
#define G_LOG_DOMAIN "confab-uv-source"

#include "confab-uv-source.h"

typedef struct
{
  GSource source;
  uv_loop_t loop;
  gpointer backend_tag; /* the epoll fd, as g_source_add_unix_fd() gave it */
  gboolean loop_ready;  /* uv_loop_init() succeeded */
} ConfabUvSource;

/* Milliseconds until the loop has work without any fd becoming ready (a due
 * timer, an idle handle, pending callbacks), -1 for none. */
static int
loop_timeout (ConfabUvSource *self)
{
  /* uv caches its clock at the start of a round; time spent in other GLib
   * sources since then would otherwise delay its timers. */
  uv_update_time (&self->loop);
  /* An empty loop has nothing to wait for, yet libuv answers 0 for it. */
  if (!uv_loop_alive (&self->loop))
    return -1;
  return uv_backend_timeout (&self->loop);
}

static gboolean
uv_source_prepare (GSource *source, gint *timeout)
{
  ConfabUvSource *self = (ConfabUvSource *) source;

  *timeout = loop_timeout (self);
  return *timeout == 0;
}

static gboolean
uv_source_check (GSource *source)
{
  ConfabUvSource *self = (ConfabUvSource *) source;

  if (g_source_query_unix_fd (source, self->backend_tag) & G_IO_IN)
    return TRUE;
  return loop_timeout (self) == 0;
}

static gboolean
uv_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  ConfabUvSource *self = (ConfabUvSource *) source;

  /* Runs due timers, then everything epoll has ready now, without blocking. */
  uv_run (&self->loop, UV_RUN_NOWAIT);
  if (callback != NULL)
    callback (user_data);
  return G_SOURCE_CONTINUE;
}

static void
uv_source_finalize (GSource *source)
{
  ConfabUvSource *self = (ConfabUvSource *) source;

  if (!self->loop_ready)
    return;
  /* Handles still open here belong to someone who did not close them; the
   * loop's memory cannot be released under them. */
  if (uv_loop_close (&self->loop) != 0)
    g_message ("libuv loop still has open handles; not closed");
}

static GSourceFuncs uv_source_funcs = {
  .prepare = uv_source_prepare,
  .check = uv_source_check,
  .dispatch = uv_source_dispatch,
  .finalize = uv_source_finalize,
};

GSource *
confab_uv_source_new (void)
{
  GSource *source = g_source_new (&uv_source_funcs, sizeof (ConfabUvSource));
  ConfabUvSource *self = (ConfabUvSource *) source;
  int rc = uv_loop_init (&self->loop);

  if (rc != 0)
    {
      g_message ("cannot create a libuv loop: %s", uv_strerror (rc));
      g_source_unref (source);
      return NULL;
    }
  self->loop_ready = TRUE;
  g_source_set_name (source, "ConfabUvSource");
  self->backend_tag = g_source_add_unix_fd (source, uv_backend_fd (&self->loop), G_IO_IN);
  return source;
}

uv_loop_t *
confab_uv_source_get_loop (GSource *source)
{
  return &((ConfabUvSource *) source)->loop;
}

gboolean
confab_uv_source_drain (GSource *source, guint max_rounds)
{
  ConfabUvSource *self = (ConfabUvSource *) source;

  for (guint i = 0; i < max_rounds; i++)
    {
      GPollFD pfd = { uv_backend_fd (&self->loop), G_IO_IN, 0 };
      int timeout;

      if (uv_run (&self->loop, UV_RUN_NOWAIT) == 0 && !uv_loop_alive (&self->loop))
        return TRUE;
      timeout = loop_timeout (self);
      g_poll (&pfd, 1, timeout < 0 || timeout > 100 ? 100 : timeout);
    }
  return !uv_loop_alive (&self->loop);
}
