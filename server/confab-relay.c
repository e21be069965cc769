/* confab-relay.c: the lws context on the GLib main loop, the one lws protocol
 * that serves both plain HTTP and the WebSocket lobby, admission of upgrades
 * (PROTOCOL.md §3), and the liveness tick (pings, idle timeout). */
#define G_LOG_DOMAIN "confab-relay"

#include "confab-relay-private.h"
#include "confab-jwt.h"
#include "confab-uv-source.h"

#include <string.h>

G_DEFINE_QUARK (confab - relay - error - quark, confab_relay_error)

void
confab_lobby_request_clear (ConfabLobbyRequest *request)
{
  g_clear_pointer (&request->user_id, g_free);
  g_clear_pointer (&request->room, g_free);
  g_clear_pointer (&request->display_name, g_free);
  request->observer = FALSE;
}

/* Normalizes (spaces become '_') and validates a user id or room name. */
static char *
checked_name (const char *raw)
{
  g_autofree char *name = NULL;

  if (raw == NULL || strcmp (raw, CONFAB_SYSTEM_USER_ID) == 0)
    return NULL;
  name = confab_name_normalize (raw);
  if (!confab_name_is_valid (name) || strcmp (name, CONFAB_SYSTEM_USER_ID) == 0)
    return NULL;
  return g_steal_pointer (&name);
}

/* The admission rules of PROTOCOL.md §3 for a decoded path (without the
 * query) and the token argument, shared by WebSocket and WebTransport. */
guint
confab_relay_parse_lobby_uri (ConfabRelay *relay,
                              const char *uri,
                              const char *token,
                              ConfabLobbyRequest *out)
{
  g_auto (GStrv) parts = NULL;

  memset (out, 0, sizeof *out);
  if (strcmp (uri, "/lobby") == 0 || strcmp (uri, "/lobby/") == 0)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ConfabJwtClaims) claims = NULL;
      gsize secret_len = 0;
      const guint8 *secret;

      if (token == NULL)
        return 400;
      if (relay->config.jwt_secret == NULL)
        return 403; /* tokens are meaningless without a secret to check them */
      secret = g_bytes_get_data (relay->config.jwt_secret, &secret_len);
      claims = confab_jwt_verify (token, secret, secret_len, g_get_real_time () / G_USEC_PER_SEC,
                                  &error);
      if (claims == NULL)
        return g_error_matches (error, CONFAB_JWT_ERROR, CONFAB_JWT_ERROR_EXPIRED) ? 401 : 403;
      out->user_id = checked_name (claims->sub);
      out->room = checked_name (claims->room);
      if (out->user_id == NULL || out->room == NULL)
        {
          confab_lobby_request_clear (out);
          return 400;
        }
      out->display_name = g_strdup (claims->display_name);
      out->observer = claims->observer && !claims->room_join;
      return 0;
    }

  if (!g_str_has_prefix (uri, "/lobby/"))
    return 404;
  parts = g_strsplit (uri + strlen ("/lobby/"), "/", -1);
  if (g_strv_length (parts) != 2)
    return 400;
  out->user_id = checked_name (parts[0]);
  out->room = checked_name (parts[1]);
  if (out->user_id == NULL || out->room == NULL)
    {
      confab_lobby_request_clear (out);
      return 400;
    }
  return 0;
}

guint
confab_relay_parse_lobby (ConfabRelay *relay, struct lws *wsi, ConfabLobbyRequest *out)
{
  char uri[1024];
  char token[8200];

  memset (out, 0, sizeof *out);
  if (lws_hdr_copy (wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
    return 400;
  return confab_relay_parse_lobby_uri (
      relay, uri, lws_get_urlarg_by_name (wsi, "token=", token, sizeof token), out);
}

static int
on_lws_event (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  ConfabRelayConn *conn = user;
  struct lws_context *context = lws_get_context (wsi);
  ConfabRelay *relay = context != NULL ? lws_context_user (context) : NULL;

  switch (reason)
    {
      case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        {
          ConfabLobbyRequest request;
          guint status;

          if (in == NULL || strcmp (in, "websocket") != 0)
            return -1;
          if (relay->draining)
            {
              /* Shutting down: no new sessions. */
              lws_return_http_status (wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, NULL);
              return 1;
            }
          status = confab_relay_parse_lobby (relay, wsi, &request);
          confab_lobby_request_clear (&request);
          if (status == 0)
            return 0;
          lws_return_http_status (wsi, status, NULL);
          return 1;
        }

      case LWS_CALLBACK_ESTABLISHED:
        {
          ConfabLobbyRequest request;

          /* Checked at CONFIRM_UPGRADE; the headers are still here to read again. */
          if (confab_relay_parse_lobby (relay, wsi, &request) != 0)
            {
              confab_lobby_request_clear (&request);
              return -1;
            }
          conn->session = confab_relay_session_new (relay, wsi, &request);
          confab_lobby_request_clear (&request);
          return 0;
        }

      case LWS_CALLBACK_RECEIVE:
        if (conn->session == NULL)
          return -1;
        return confab_relay_session_receive (conn->session, in, len);

      case LWS_CALLBACK_RECEIVE_PONG:
        /* lws reports only pongs with a payload; our pings always carry one. */
        if (conn->session != NULL)
          conn->session->last_rx_us = g_get_monotonic_time ();
        return 0;

      case LWS_CALLBACK_SERVER_WRITEABLE:
        if (conn->session == NULL)
          return 0;
        return confab_relay_session_writeable (conn->session);

      case LWS_CALLBACK_CLOSED:
        if (conn->session != NULL)
          {
            g_clear_pointer (&conn->session, confab_relay_session_free);
          }
        return 0;

      case LWS_CALLBACK_HTTP:
        return confab_relay_http_request (relay, wsi, conn);

      case LWS_CALLBACK_HTTP_WRITEABLE:
        return confab_relay_http_writeable (relay, wsi, conn);

      case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      case LWS_CALLBACK_CLOSED_HTTP:
        if (conn != NULL)
          g_clear_pointer (&conn->http_body, g_free);
        return 0;

      default:
        return 0;
    }
}

static const struct lws_protocols relay_protocols[] = {
  {
      /* No subprotocol is required from clients, so this first protocol serves
       * every WebSocket as well as plain HTTP. */
      .name = "confab",
      .callback = on_lws_event,
      .per_session_data_size = sizeof (ConfabRelayConn),
      .rx_buffer_size = 65536,
  },
  { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static gboolean
on_tick (gpointer data)
{
  ConfabRelay *relay = data;
  gint64 now = g_get_monotonic_time ();
  gboolean ping = now - relay->last_ping_us >= (gint64) relay->config.ping_interval_ms * 1000;
  GList *next;

  if (ping)
    relay->last_ping_us = now;
  for (GList *l = relay->sessions.head; l != NULL; l = next)
    {
      next = l->next;
      confab_relay_session_tick (l->data, now, ping);
    }
  return G_SOURCE_CONTINUE;
}

static void
log_from_lws (int level, const char *line)
{
  gsize n = strlen (line);

  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    n--;
  if (level & LLL_ERR)
    g_message ("lws error: %.*s", (int) n, line);
  else
    g_debug ("lws: %.*s", (int) n, line);
}

/* After each round of the uv loop: the sessions it made dirty are flushed now
 * rather than from the idle source they scheduled, which saves a GLib
 * iteration per round. */
static gboolean
on_uv_round (gpointer data)
{
  ConfabRelay *relay = data;

  if (relay->flush_source != 0)
    {
      g_clear_handle_id (&relay->flush_source, g_source_remove);
      confab_relay_flush (relay);
    }
  return G_SOURCE_CONTINUE;
}

ConfabRelay *
confab_relay_new (const ConfabRelayConfig *config, GMainLoop *loop, GError **error)
{
  g_autoptr (ConfabRelay) relay = g_new0 (ConfabRelay, 1);
  struct lws_context_creation_info info;
  void *foreign_loops[1];
  guint tick_ms;

  relay->config = *config;
  relay->config.listen_address = g_strdup (config->listen_address);
  relay->config.nats_url = g_strdup (config->nats_url);
  relay->config.server_id = g_strdup (config->server_id);
  relay->config.region = g_strdup (config->region);
  relay->config.jwt_secret = config->jwt_secret != NULL ? g_bytes_ref (config->jwt_secret) : NULL;
  relay->config.cert_file = g_strdup (config->cert_file);
  relay->config.key_file = g_strdup (config->key_file);
  relay->rooms = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&relay->sessions);
  g_queue_init (&relay->dirty);
  relay->arena = confab_arena_new (64 * 1024);
  relay->scratch = g_malloc (LWS_PRE + CONFAB_RELAY_COALESCE_BYTES);

  /* PROTOCOL.md §4.3: health.diagnostics.{region}.{service}.{server_id} */
  relay->health_subjects[CONFAB_RELAY_PATH_WEBSOCKET] =
      g_strdup_printf ("health.diagnostics.%s.websocket.%s", config->region, config->server_id);
  relay->health_subjects[CONFAB_RELAY_PATH_WEBTRANSPORT] =
      g_strdup_printf ("health.diagnostics.%s.webtransport.%s", config->region, config->server_id);
  if (config->nats_url != NULL)
    {
      relay->bus = confab_room_bus_nats_new (config->nats_url, confab_room_deliver, relay, error);
      if (relay->bus == NULL)
        return NULL;
    }
  else
    relay->bus = confab_room_bus_local_new (confab_room_deliver, relay);

  /* WebTransport first: when the TCP port accepts (the relay's "ready"), the
   * UDP port is bound too. */
  if (!confab_relay_wt_start (relay, error))
    return NULL;

  /* lws runs on a libuv loop that is one GSource of the GLib loop (see
   * confab-uv-source.c): GLib polls one epoll fd instead of one fd and one
   * GSource per connection. After each round of the uv loop the output it
   * produced is flushed, so one round's packets leave in one send() per
   * receiver. */
  relay->uv_source = confab_uv_source_new ();
  if (relay->uv_source == NULL)
    {
      g_set_error (error, CONFAB_RELAY_ERROR, CONFAB_RELAY_ERROR_LISTEN,
                   "cannot create the event loop");
      return NULL;
    }
  g_source_set_callback (relay->uv_source, on_uv_round, relay, NULL);
  g_source_attach (relay->uv_source, g_main_loop_get_context (loop));
  foreign_loops[0] = confab_uv_source_get_loop (relay->uv_source);

  lws_set_log_level (LLL_ERR, log_from_lws);
  memset (&info, 0, sizeof info);
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.foreign_loops = foreign_loops;
  info.port = config->ws_port;
  if (config->listen_address != NULL && strcmp (config->listen_address, "0.0.0.0") != 0 &&
      config->listen_address[0] != '\0')
    info.iface = relay->config.listen_address;
  info.protocols = relay_protocols;
  info.gid = -1;
  info.uid = -1;
  info.user = relay;
  if (config->cert_file != NULL)
    {
      /* wss:// with the same certificate as WebTransport. */
      info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
      info.ssl_cert_filepath = relay->config.cert_file;
      info.ssl_private_key_filepath = relay->config.key_file;
    }
  info.count_threads = 1;
  info.pcontext = &relay->context;
  relay->context = lws_create_context (&info);
  if (relay->context == NULL)
    {
      g_set_error (error, CONFAB_RELAY_ERROR, CONFAB_RELAY_ERROR_LISTEN, "cannot listen on %s:%u",
                   config->listen_address != NULL ? config->listen_address : "0.0.0.0",
                   config->ws_port);
      return NULL;
    }

  /* One timer does all periodic work: pings and the idle check. */
  tick_ms = MIN (config->ping_interval_ms, MAX (config->idle_timeout_ms / 4, 10u));
  tick_ms = MAX (tick_ms, 10u);
  relay->last_ping_us = g_get_monotonic_time ();
  relay->tick_source = g_timeout_add (tick_ms, on_tick, relay);
  g_message ("listening on %s:%u (%s bus, server id %s)",
             config->listen_address != NULL ? config->listen_address : "0.0.0.0", config->ws_port,
             config->nats_url != NULL ? "NATS" : "in-process", config->server_id);
  return g_steal_pointer (&relay);
}

static gboolean
drained (ConfabRelay *relay)
{
  GHashTableIter iter;
  gpointer room;

  if (!g_queue_is_empty (&relay->sessions))
    return FALSE;
  /* Without NATS nobody can take a leave over; with it, a client that moved
   * to another relay retires its leave here within a few milliseconds. */
  if (relay->config.nats_url == NULL)
    return TRUE;
  g_hash_table_iter_init (&iter, relay->rooms);
  while (g_hash_table_iter_next (&iter, NULL, &room))
    if (g_hash_table_size (((ConfabRoom *) room)->pending_leaves) > 0)
      return FALSE;
  return TRUE;
}

static void
drain_finish (ConfabRelay *relay, const char *why)
{
  GSourceFunc done = relay->drain_done;

  g_clear_handle_id (&relay->drain_timer, g_source_remove);
  g_clear_handle_id (&relay->drain_check, g_source_remove);
  if (done == NULL)
    return;
  relay->drain_done = NULL;
  g_message ("drained: %s", why);
  done (relay->drain_data);
}

static gboolean
on_drain_check (gpointer data)
{
  ConfabRelay *relay = data;

  relay->drain_check = 0;
  if (drained (relay))
    drain_finish (relay, "every client left");
  return G_SOURCE_REMOVE;
}

static gboolean
on_drain_timeout (gpointer data)
{
  ConfabRelay *relay = data;

  relay->drain_timer = 0;
  drain_finish (relay, "timeout");
  return G_SOURCE_REMOVE;
}

void
confab_relay_drain_progress (ConfabRelay *relay)
{
  /* From the loop: this runs inside session and room teardown. */
  if (relay->drain_done != NULL && relay->drain_check == 0)
    relay->drain_check = g_idle_add (on_drain_check, relay);
}

void
confab_relay_drain (ConfabRelay *relay, guint timeout_ms, GSourceFunc done, gpointer data)
{
  GList *next;

  if (relay->draining)
    return;
  relay->draining = TRUE;
  relay->drain_done = done;
  relay->drain_data = data;
  g_message ("draining: %u session(s), up to %u ms", relay->sessions.length, timeout_ms);
  for (GList *l = relay->sessions.head; l != NULL; l = next)
    {
      next = l->next;
      confab_relay_session_go_away (l->data);
    }
  relay->drain_timer = g_timeout_add (timeout_ms, on_drain_timeout, relay);
  confab_relay_drain_progress (relay);
}

void
confab_relay_free (ConfabRelay *relay)
{
  GHashTableIter iter;
  gpointer room;

  if (relay == NULL)
    return;
  relay->drain_done = NULL;
  g_clear_handle_id (&relay->drain_timer, g_source_remove);
  g_clear_handle_id (&relay->drain_check, g_source_remove);
  g_clear_handle_id (&relay->tick_source, g_source_remove);
  g_clear_handle_id (&relay->flush_source, g_source_remove);
  confab_relay_wt_stop (relay);
  /* Closes every connection; their sessions are freed in CLOSED. On a
   * foreign libuv loop this takes two calls: the first starts closing lws's
   * handles, which libuv completes only in later rounds of the loop; the
   * second, after those, frees the context. lws clears relay->context
   * (info.pcontext) once the context is gone. */
  if (relay->context != NULL)
    lws_context_destroy (relay->context);
  if (relay->uv_source != NULL)
    {
      if (!confab_uv_source_drain (relay->uv_source, 50))
        g_message ("lws did not release the event loop within 5 s");
      if (relay->context != NULL)
        lws_context_destroy (relay->context);
      relay->context = NULL;
      g_source_destroy (relay->uv_source);
      g_clear_pointer (&relay->uv_source, g_source_unref);
      /* Sessions that closed during the drain may have queued output. */
      g_clear_handle_id (&relay->flush_source, g_source_remove);
    }
  /* This relay will not be there when the grace periods end: whoever left
   * (or is still connected now) is announced before the bus goes. */
  {
    g_autoptr (GList) rooms = g_hash_table_get_values (relay->rooms);

    for (GList *l = rooms; l != NULL; l = l->next)
      confab_room_flush_pending_leaves (l->data);
  }
  g_hash_table_iter_init (&iter, relay->rooms);
  while (g_hash_table_iter_next (&iter, NULL, &room))
    {
      g_hash_table_iter_steal (&iter);
      confab_room_free (room);
    }
  g_clear_pointer (&relay->bus, confab_room_bus_free);
  g_hash_table_destroy (relay->rooms);
  confab_arena_free (relay->arena);
  g_free (relay->scratch);
  g_free (relay->health_subjects[0]);
  g_free (relay->health_subjects[1]);
  g_free (relay->config.listen_address);
  g_free (relay->config.nats_url);
  g_free (relay->config.server_id);
  g_free (relay->config.region);
  g_clear_pointer (&relay->config.jwt_secret, g_bytes_unref);
  g_free (relay->config.cert_file);
  g_free (relay->config.key_file);
  g_free (relay);
}
