/* confab-lws-private.h: how net/ runs libwebsockets client contexts on a GLib
 * main context (shared by the WebSocket transport and the /config.js fetch). */
#pragma once

#include <glib.h>
#include <libwebsockets.h>

G_BEGIN_DECLS

/* A client-only lws context whose sockets and timers live on @context (the
 * thread-default context when NULL), with @user as lws_context_user(); with
 * OpenSSL client support only when @tls (it costs ~700 KB per context). Returns
 * NULL when lws cannot create it (e.g. the GLib event library plugin is missing). */
struct lws_context *confab_lws_client_context_new (GMainContext *context,
                                                   const struct lws_protocols *protocols,
                                                   gboolean tls,
                                                   void *user);

/* Destroys @lws_context from an idle callback on its main context (lws must
 * never be torn down from inside one of its own callbacks), then frees @user
 * with @user_free: lws calls back with its context user until destroyed. */
void confab_lws_context_destroy_later (GMainContext *context,
                                       struct lws_context *lws_context,
                                       gpointer user,
                                       GDestroyNotify user_free);

G_END_DECLS
