/* confab-test-util.c: real relays and nats-servers for the tests. */
#define G_LOG_DOMAIN "confab-test"

#include "confab-test-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocess *
confab_test_spawnv (const char *const *argv, GSubprocessFlags flags, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  return g_subprocess_launcher_spawnv (launcher, argv, error);
}

guint16
confab_test_free_port (void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint16 port;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sa, &len), ==, 0);
  port = ntohs (sa.sin_port);
  close (fd);
  return port;
}

guint16
confab_test_free_udp_port (void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof sa;
  int fd = socket (AF_INET, SOCK_DGRAM, 0);
  guint16 port;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sa, &len), ==, 0);
  port = ntohs (sa.sin_port);
  close (fd);
  return port;
}

gboolean
confab_test_wait_for_port (guint16 port, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      struct sockaddr_in sa = { .sin_family = AF_INET,
                                .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
                                .sin_port = htons (port) };
      int fd = socket (AF_INET, SOCK_STREAM, 0);
      int rc = connect (fd, (struct sockaddr *) &sa, sizeof sa);
      close (fd);
      if (rc == 0)
        return TRUE;
      g_usleep (20 * 1000);
    }
  return FALSE;
}

static const char *
program_path (const char *env, const char *name)
{
  const char *path = g_getenv (env);
  return path != NULL ? path : name;
}

const char *
confab_test_relay_path (void)
{
  return program_path ("CONFAB_RELAY", "confab-relay");
}

const char *
confab_test_cli_path (void)
{
  return program_path ("CONFAB_CLI", "confab-cli");
}

ConfabTestNats *
confab_test_nats_start (guint16 port)
{
  g_autoptr (GError) error = NULL;
  ConfabTestNats *nats = g_new0 (ConfabTestNats, 1);
  g_autofree char *port_str = NULL;

  nats->port = port != 0 ? port : confab_test_free_port ();
  port_str = g_strdup_printf ("%u", nats->port);
  nats->process = confab_test_spawnv (
      (const char *const[]){ "nats-server", "-a", "127.0.0.1", "-p", port_str, NULL },
      G_SUBPROCESS_FLAGS_STDERR_SILENCE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
  g_assert_no_error (error);
  g_assert_true (confab_test_wait_for_port (nats->port, 10000));
  nats->url = g_strdup_printf ("nats://127.0.0.1:%u", nats->port);
  return nats;
}

static void
on_process_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) data = TRUE;
}

static void
stop_process (GSubprocess *process)
{
  g_autoptr (GMainContext) context = NULL;
  gboolean exited = FALSE;
  gint64 deadline;

  if (process == NULL)
    return;
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait_async (process, NULL, on_process_exited, &exited);
  /* Bounded: a process that ignores SIGTERM for 5 s is killed. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (!exited && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (context, FALSE))
      g_usleep (10 * 1000);
  if (!exited)
    {
      g_subprocess_force_exit (process);
      while (!exited)
        g_main_context_iteration (context, TRUE);
    }
  g_main_context_pop_thread_default (context);
}

void
confab_test_nats_stop (ConfabTestNats *nats)
{
  if (nats == NULL)
    return;
  stop_process (nats->process);
  g_clear_object (&nats->process);
  g_free (nats->url);
  g_free (nats);
}

static ConfabTestRelay *
relay_start (const char *const *extra_args, gboolean webtransport)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  ConfabTestRelay *relay = g_new0 (ConfabTestRelay, 1);

  relay->ws_port = confab_test_free_port ();
  relay->wt_port = webtransport ? confab_test_free_udp_port () : 0;
  g_ptr_array_add (argv, g_strdup (confab_test_relay_path ()));
  g_ptr_array_add (argv, g_strdup ("--listen"));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("--ws-port"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", relay->ws_port));
  /* The relay binds the UDP port before the TCP one, so "TCP accepts" still
   * means ready. */
  g_ptr_array_add (argv, g_strdup ("--wt-port"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", relay->wt_port));
  for (gsize i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (extra_args[i]));
  g_ptr_array_add (argv, NULL);

  relay->process =
      confab_test_spawnv ((const char *const *) argv->pdata, G_SUBPROCESS_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_true (confab_test_wait_for_port (relay->ws_port, 10000));
  relay->ws_base = g_strdup_printf ("ws://127.0.0.1:%u", relay->ws_port);
  relay->http_base = g_strdup_printf ("http://127.0.0.1:%u", relay->ws_port);
  if (webtransport)
    relay->wt_base = g_strdup_printf ("https://127.0.0.1:%u", relay->wt_port);
  return relay;
}

ConfabTestRelay *
confab_test_relay_start (const char *const *extra_args)
{
  return relay_start (extra_args, FALSE);
}

ConfabTestRelay *
confab_test_relay_start_wt (const char *const *extra_args)
{
  return relay_start (extra_args, TRUE);
}

void
confab_test_relay_stop (ConfabTestRelay *relay)
{
  if (relay == NULL)
    return;
  stop_process (relay->process);
  g_clear_object (&relay->process);
  g_free (relay->ws_base);
  g_free (relay->http_base);
  g_free (relay->wt_base);
  g_free (relay);
}

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
confab_test_run_until (gboolean *done, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, on_timeout, &timed_out);

  while (!*done && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return *done;
}
