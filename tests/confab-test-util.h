/* confab-test-util.h: start the real services the tests talk to (confab-relay,
 * nats-server) as subprocesses on free loopback ports, and stop them. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *process;
  guint16 port;
  char *url; /* nats://127.0.0.1:PORT */
} ConfabTestNats;

typedef struct
{
  GSubprocess *process;
  guint16 ws_port;
  char *ws_base;   /* ws://127.0.0.1:PORT */
  char *http_base; /* http://127.0.0.1:PORT */
  guint16 wt_port; /* 0 unless started by confab_test_relay_start_wt() */
  char *wt_base;   /* https://127.0.0.1:PORT (WebTransport), or NULL */
} ConfabTestRelay;

/* A TCP port on 127.0.0.1 that was free a moment ago. */
guint16 confab_test_free_port (void);

/* Starts argv[0] like g_subprocess_newv(), but the child is killed when the
 * test dies (PR_SET_PDEATHSIG): an aborted test never leaves a relay,
 * nats-server or CLI behind holding meson's output pipe open. */
GSubprocess *confab_test_spawnv (const char *const *argv, GSubprocessFlags flags, GError **error);
/* A UDP port on 127.0.0.1 that was free a moment ago. */
guint16 confab_test_free_udp_port (void);
/* Waits (bounded by @timeout_ms) until something accepts on 127.0.0.1:@port. */
gboolean confab_test_wait_for_port (guint16 port, guint timeout_ms);

/* Path of a built program: $CONFAB_RELAY / $CONFAB_CLI set by meson, else PATH. */
const char *confab_test_relay_path (void);
const char *confab_test_cli_path (void);

/* nats-server on a free loopback port; g_assert()s that it starts. Pass @port 0
 * for a free one, or a fixed one to restart a server on the same port. */
ConfabTestNats *confab_test_nats_start (guint16 port);
void confab_test_nats_stop (ConfabTestNats *nats);

/* confab-relay on a free loopback port, with extra command-line arguments
 * (NULL-terminated, may be NULL); g_assert()s that it starts. */
ConfabTestRelay *confab_test_relay_start (const char *const *extra_args);
/* The same, with WebTransport on a free UDP port (--wt-port). Plain
 * confab_test_relay_start() passes --wt-port 0, so parallel relays never
 * fight over the default UDP port 4433. */
ConfabTestRelay *confab_test_relay_start_wt (const char *const *extra_args);
void confab_test_relay_stop (ConfabTestRelay *relay);

/* Spins the thread-default main context until @done is TRUE or @timeout_ms
 * passes; returns @done. */
gboolean confab_test_run_until (gboolean *done, guint timeout_ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabTestNats, confab_test_nats_stop)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabTestRelay, confab_test_relay_stop)

G_END_DECLS
