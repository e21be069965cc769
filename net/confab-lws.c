/* confab-lws.c: libwebsockets client contexts on the GLib main loop. */
#define G_LOG_DOMAIN "confab-lws"

#include "confab-lws-private.h"

#include <string.h>

static void
lws_log_to_glib (int level, const char *line)
{
  g_autofree char *copy = g_strchomp (g_strdup (line));

  if (level & LLL_ERR)
    g_debug ("lws error: %s", copy); /* surfaced to callers as GErrors instead */
  else
    g_debug ("lws: %s", copy);
}

static gpointer
setup_logging_once (gpointer data)
{
  lws_set_log_level (LLL_ERR | LLL_WARN, lws_log_to_glib);
  return NULL;
}

/* lws wants a GMainLoop to find the context to attach its sources to; it never
 * runs a foreign loop, so one holder per GMainContext (never freed, like the
 * contexts it names in practice) is enough. */
static GMainLoop *
loop_for_context (GMainContext *context)
{
  static GMutex lock;
  static GHashTable *loops;
  GMainLoop *loop;

  g_mutex_lock (&lock);
  if (loops == NULL)
    loops = g_hash_table_new (NULL, NULL);
  loop = g_hash_table_lookup (loops, context);
  if (loop == NULL)
    {
      loop = g_main_loop_new (context, FALSE);
      g_hash_table_insert (loops, g_main_context_ref (context), loop);
    }
  g_mutex_unlock (&lock);
  return loop;
}

struct lws_context *
confab_lws_client_context_new (GMainContext *context,
                               const struct lws_protocols *protocols,
                               gboolean tls,
                               void *user)
{
  static GOnce log_once = G_ONCE_INIT;
  struct lws_context_creation_info info;
  void *foreign_loops[1];

  g_once (&log_once, setup_logging_once, NULL);

  if (context == NULL)
    context = g_main_context_get_thread_default ();
  if (context == NULL)
    context = g_main_context_default ();
  foreign_loops[0] = loop_for_context (context);

  memset (&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_GLIB | (tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
  info.foreign_loops = foreign_loops;
  info.user = user;
  info.timeout_secs = 10;
  info.connect_timeout_secs = 10;
  return lws_create_context (&info);
}

typedef struct
{
  struct lws_context *lws_context;
  gpointer user;
  GDestroyNotify user_free;
} DestroyLater;

static gboolean
destroy_in_idle (gpointer data)
{
  DestroyLater *later = data;

  if (later->lws_context != NULL)
    lws_context_destroy (later->lws_context);
  if (later->user_free != NULL)
    later->user_free (later->user);
  g_free (later);
  return G_SOURCE_REMOVE;
}

void
confab_lws_context_destroy_later (GMainContext *context,
                                  struct lws_context *lws_context,
                                  gpointer user,
                                  GDestroyNotify user_free)
{
  g_autoptr (GSource) source = NULL;
  DestroyLater *later = g_new0 (DestroyLater, 1);

  later->lws_context = lws_context;
  later->user = user;
  later->user_free = user_free;
  source = g_idle_source_new ();
  g_source_set_callback (source, destroy_in_idle, later, NULL);
  g_source_set_static_name (source, "[confab] lws context destroy");
  g_source_attach (source, context);
}
