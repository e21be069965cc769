/* confab-relay-main.c: command line of confab-relay (the contract in
 * notes: --listen --ws-port --nats --server-id --region --jwt-secret-file,
 * and --wt-port --cert --key of issue 3). */
#define G_LOG_DOMAIN "confab-relay"

#include <glib-unix.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "confab-relay.h"

typedef struct
{
  GMainLoop *loop;
  ConfabRelay *relay;
  guint drain_ms;
  gboolean draining;
} Shutdown;

static gboolean
on_drained (gpointer data)
{
  Shutdown *shutdown = data;

  g_main_loop_quit (shutdown->loop);
  return G_SOURCE_REMOVE;
}

/* The first SIGTERM/SIGINT drains (clients move, bounded); a second one
 * stops at once. */
static gboolean
on_signal (gpointer data)
{
  Shutdown *shutdown = data;

  if (shutdown->draining)
    {
      g_main_loop_quit (shutdown->loop);
      return G_SOURCE_CONTINUE;
    }
  shutdown->draining = TRUE;
  confab_relay_drain (shutdown->relay, shutdown->drain_ms, on_drained, shutdown);
  return G_SOURCE_CONTINUE;
}

/* Test knobs, deliberately not in --help: the tests shorten the liveness
 * timers so they finish in seconds (docs/relay.md). */
static guint
env_ms (const char *name, guint fallback)
{
  const char *value = g_getenv (name);
  guint64 ms;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 1, G_MAXUINT, &ms, NULL))
    return fallback;
  return (guint) ms;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GBytes) secret = NULL;
  g_autofree char *listen_address = NULL;
  g_autofree char *nats_url = NULL;
  g_autofree char *server_id = NULL;
  g_autofree char *region = NULL;
  g_autofree char *jwt_secret_file = NULL;
  g_autofree char *cert_file = NULL;
  g_autofree char *key_file = NULL;
  gint ws_port = 8080;
  gint wt_port = -1;
  gint64 wt_stream_budget = -1;
  gboolean wt_port_given;
  gboolean version = FALSE;
  ConfabRelayConfig config = { 0 };
  ConfabRelay *relay;
  Shutdown shutdown = { 0 };
  GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen_address,
      "Address to listen on (default 0.0.0.0)", "ADDR" },
    { "ws-port", 0, 0, G_OPTION_ARG_INT, &ws_port, "WebSocket/HTTP port (default 8080)", "N" },
    { "wt-port", 0, 0, G_OPTION_ARG_INT, &wt_port,
      "WebTransport port, UDP (default 4433; 0 disables)", "N" },
    { "wt-stream-budget", 0, 0, G_OPTION_ARG_INT64, &wt_stream_budget,
      "Streams one WebTransport session carries before its client is asked to move to a "
      "fresh one (default 200000; 0: no limit)",
      "N" },
    { "cert", 0, 0, G_OPTION_ARG_FILENAME, &cert_file,
      "TLS certificate (PEM) for WebTransport and wss:// (default: a generated one)", "FILE" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &key_file, "Private key (PEM) of --cert", "FILE" },
    { "nats", 0, 0, G_OPTION_ARG_STRING, &nats_url, "NATS server to share rooms with other relays",
      "URL" },
    { "server-id", 0, 0, G_OPTION_ARG_STRING, &server_id,
      "Name of this relay (default hostname-pid)", "ID" },
    { "region", 0, 0, G_OPTION_ARG_STRING, &region, "Region for health reports (default \"local\")",
      "R" },
    { "jwt-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &jwt_secret_file,
      "Accept /lobby?token= room tokens signed with this HS256 secret", "FILE" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL },
  };

  context = g_option_context_new ("- Confab relay (WebSocket and WebTransport)");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("confab-relay: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("confab-relay %s\n", CONFAB_VERSION);
      return 0;
    }
  if (ws_port <= 0 || ws_port > 65535)
    {
      g_printerr ("confab-relay: --ws-port must be 1-65535\n");
      return 2;
    }
  wt_port_given = wt_port != -1;
  if (!wt_port_given)
    wt_port = 4433;
  if (wt_port < 0 || wt_port > 65535)
    {
      g_printerr ("confab-relay: --wt-port must be 0-65535\n");
      return 2;
    }
  /* The test knob stands in for the option, which wins. */
  if (wt_stream_budget == -1)
    {
      const char *value = g_getenv ("CONFAB_RELAY_WT_STREAM_BUDGET");
      guint64 budget;

      wt_stream_budget = 200000;
      if (value != NULL && g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64, &budget, NULL))
        wt_stream_budget = (gint64) budget;
    }
  if (wt_stream_budget < 0)
    {
      g_printerr ("confab-relay: --wt-stream-budget must be 0 or more\n");
      return 2;
    }
  if ((cert_file == NULL) != (key_file == NULL))
    {
      g_printerr ("confab-relay: --cert and --key go together\n");
      return 2;
    }
  if (jwt_secret_file != NULL)
    {
      char *contents = NULL;
      gsize len = 0;
      if (!g_file_get_contents (jwt_secret_file, &contents, &len, &error))
        {
          g_printerr ("confab-relay: %s\n", error->message);
          return 2;
        }
      /* A trailing newline from `echo secret > file` is not part of the secret. */
      while (len > 0 && (contents[len - 1] == '\n' || contents[len - 1] == '\r'))
        len--;
      if (len == 0)
        {
          g_free (contents);
          g_printerr ("confab-relay: %s is empty\n", jwt_secret_file);
          return 2;
        }
      secret = g_bytes_new_take (contents, len);
    }
  if (server_id == NULL)
    server_id = g_strdup_printf ("%s-%d", g_get_host_name (), (int) getpid ());

  config.listen_address = listen_address;
  config.ws_port = (guint16) ws_port;
  config.wt_port = (guint16) wt_port;
  /* A port nobody asked for that is taken (a second relay on this host) must
   * not stop the WebSocket relay; an explicit --wt-port must work. */
  config.wt_optional = !wt_port_given;
  config.cert_file = cert_file;
  config.key_file = key_file;
  config.nats_url = nats_url;
  config.server_id = server_id;
  config.region = region != NULL ? region : (char *) "local";
  config.jwt_secret = secret;
  config.idle_timeout_ms = env_ms ("CONFAB_RELAY_IDLE_TIMEOUT_MS", 30000);
  config.ping_interval_ms = env_ms ("CONFAB_RELAY_PING_INTERVAL_MS", 5000);
  config.leave_grace_ms = 2000;
  config.wt_stream_budget = (guint64) wt_stream_budget;
  config.wt_retire_grace_ms = env_ms ("CONFAB_RELAY_WT_RETIRE_GRACE_MS", 30000);

  loop = g_main_loop_new (NULL, FALSE);
  relay = confab_relay_new (&config, loop, &error);
  if (relay == NULL)
    {
      g_printerr ("confab-relay: %s\n", error->message);
      return 1;
    }
  shutdown.loop = loop;
  shutdown.relay = relay;
  shutdown.drain_ms = env_ms ("CONFAB_RELAY_DRAIN_TIMEOUT_MS", 2000);
  g_unix_signal_add (SIGINT, on_signal, &shutdown);
  g_unix_signal_add (SIGTERM, on_signal, &shutdown);
  g_main_loop_run (loop);

  g_message ("shutting down");
  confab_relay_free (relay);
  if (nats_url != NULL)
    nats_CloseAndWait (2000);
  return 0;
}
