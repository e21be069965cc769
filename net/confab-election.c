/* confab-election.c: transport election and reconnect (PROTOCOL.md §5) as a
 * ConfabTransport. Packets from the carrying path go to the call untouched
 * (once the election is over, without even being looked at); during the
 * election every packet is unpacked (protobuf-c, into an arena) for
 * SESSION_ASSIGNED and echoed RTT probes. Only RTT probes are ever sent
 * on a path that does not carry the call, because the relay activates a
 * session on its first other packet (PROTOCOL.md §4.2). */
#define G_LOG_DOMAIN "confab-election"

#include "confab-election.h"

#include "confab-packet.h"
#include "confab-ws-transport.h"
#include "confab-wt-session.h"
#include "confab-wt-transport.h"

#include <string.h>

#define RTT_WINDOW 10
#define RTT_MAX_MS 10000.0
/* Once settled: a carrier silent this long gets a probe of its own (the call
 * probes every second, but a quiet room may bring nothing else), and one
 * silent for SILENCE_DEAD_MS is dead even if its transport has not noticed
 * (a QUIC path notices only at its 30 s idle timeout without a reset). */
#define WATCHDOG_MS      1000
#define SILENCE_PROBE_MS 2000
#define SILENCE_DEAD_MS  6000

typedef enum
{
  PATH_CONNECTING,
  PATH_OPEN,     /* transport up, no SESSION_ASSIGNED yet */
  PATH_ASSIGNED, /* has a session: may carry the call */
  PATH_CLOSING,  /* a loser we asked to close */
  PATH_CLOSED,
} PathState;

typedef struct
{
  ConfabElection *election; /* borrowed */
  ConfabTransport *transport;
  const char *url; /* borrowed from the election's urls */
  gboolean webtransport;
  /* The relay asked us to move (GOAWAY/drain, or WebSocket close 1001). */
  gboolean draining;
  ConfabWtSession *wt_session; /* watched for "draining" */
  PathState state;
  gint64 assigned_us;
  GBytes *assigned; /* SESSION_ASSIGNED as received, replayed to the call on a switch */
  double rtt[RTT_WINDOW];
  guint rtt_count;
  guint rtt_next;
} Path;

struct _ConfabElection
{
  ConfabTransport parent_instance;

  /* Owned */
  char **urls;
  char *user_id;
  char *cert_hash;
  gboolean insecure;
  guint window_ms;
  GMainContext *context;
  GPtrArray *paths; /* Path*, this round's and losers still closing */
  GSource *probe_timer;
  GSource *window_timer;
  GSource *retry_timer;
  GSource *watchdog_timer;
  GSource *reap_idle;
  GError *first_error;
  ConfabArena *arena; /* packets unpacked while a window is open; NULL otherwise */

  /* Borrowed from paths */
  Path *carrier;

  gint64 start_us;
  gint64 join_us;
  gint64 carrier_rx_us;
  guint extensions;
  guint attempt;
  guint reconnects;
  gboolean electing; /* a round's window is open */
  gboolean settled;  /* the first election was decided */
  gboolean joined;   /* some path carried the call */
  gboolean lost;     /* the carrier died: the next carrier resumes the call */
  gboolean move_now; /* the carrier's relay is going away: first retry without backoff */
  gboolean closing;
};

G_DEFINE_FINAL_TYPE (ConfabElection, confab_election, CONFAB_TYPE_TRANSPORT)

enum
{
  SIGNAL_ELECTED,
  SIGNAL_RECONNECTING,
  SIGNAL_RESUMED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ---- backoff ----------------------------------------------------------------- */

guint
confab_election_backoff_ms (guint attempt, double jitter)
{
  guint cap = attempt <= 5 ? 2000 : attempt <= 15 ? 10000 : 30000;
  guint delay = 500;

  for (guint i = 1; i < attempt && delay < cap; i++)
    delay *= 2;
  delay = MIN (delay, cap);
  if (!(jitter >= 0.0))
    jitter = 0.0;
  jitter = MIN (jitter, 1.0);
  return (guint) (delay * (0.75 + 0.25 * jitter) + 0.5);
}

/* ---- reading packets during the election ------------------------------------------ */

/* Unpacks @data into the election's arena (reset per packet: no malloc once it
 * has grown to the largest packet of the window). NULL when it is not a
 * PacketWrapper. Only runs while a window is open, a few seconds per join. */
static ConfabPacketWrapper *
unpack_wrapper (ConfabElection *self, const guint8 *data, gsize len)
{
  if (self->arena == NULL)
    self->arena = confab_arena_new (4096); /* control packets and RTT echoes are small */
  confab_arena_reset (self->arena);
  if (len > CONFAB_MAX_PACKET_SIZE)
    return NULL;
  /* protobuf-c reads nothing when len is 0, but wants a valid pointer. */
  return confab__packet_wrapper__unpack (confab_arena_allocator (self->arena), len,
                                         data != NULL ? data : (const guint8 *) "");
}

/* The RTT probe echo carried by @wrapper, as a sample in ms; FALSE if it is none. */
static gboolean
rtt_sample (ConfabElection *self, const ConfabPacketWrapper *wrapper, double *sample)
{
  ConfabMediaPacket *media;

  if (wrapper->packet_type != CONFAB_PACKET_MEDIA || wrapper->data.len == 0)
    return FALSE;
  media = confab__media_packet__unpack (confab_arena_allocator (self->arena), wrapper->data.len,
                                        wrapper->data.data);
  if (media == NULL || media->media_type != CONFAB_MEDIA_RTT)
    return FALSE;
  *sample = g_get_monotonic_time () / 1000.0 - media->timestamp;
  return TRUE;
}

/* ---- paths --------------------------------------------------------------------- */

static gboolean
path_is_live (const Path *path)
{
  return path->state == PATH_CONNECTING || path->state == PATH_OPEN || path->state == PATH_ASSIGNED;
}

static double
path_rtt (const Path *path)
{
  double sum = 0;

  if (path->rtt_count == 0)
    return -1;
  for (guint i = 0; i < path->rtt_count; i++)
    sum += path->rtt[i];
  return sum / path->rtt_count;
}

static void
path_free (Path *path)
{
  if (path->wt_session != NULL)
    {
      g_signal_handlers_disconnect_by_data (path->wt_session, path);
      g_clear_object (&path->wt_session);
    }
  g_signal_handlers_disconnect_by_data (path->transport, path);
  g_clear_object (&path->transport);
  g_clear_pointer (&path->assigned, g_bytes_unref);
  g_free (path);
}

static void
stop_timer (GSource **timer)
{
  if (*timer == NULL)
    return;
  g_source_destroy (*timer);
  g_clear_pointer (timer, g_source_unref);
}

static GSource *
start_timer (ConfabElection *self, guint interval_ms, GSourceFunc func)
{
  GSource *source = g_timeout_source_new (interval_ms);

  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

static gboolean
reap (gpointer data)
{
  ConfabElection *self = data;

  g_clear_pointer (&self->reap_idle, g_source_unref);
  for (guint i = self->paths->len; i > 0; i--)
    {
      Path *path = g_ptr_array_index (self->paths, i - 1);

      if (path->state == PATH_CLOSED && path != self->carrier)
        g_ptr_array_remove_index (self->paths, i - 1);
    }
  return G_SOURCE_REMOVE;
}

/* Closed paths are freed from the loop, never inside their own signal. */
static void
schedule_reap (ConfabElection *self)
{
  if (self->reap_idle != NULL)
    return;
  self->reap_idle = g_idle_source_new ();
  g_source_set_callback (self->reap_idle, reap, self, NULL);
  g_source_attach (self->reap_idle, self->context);
}

static void
send_probe (ConfabElection *self, Path *path)
{
  ConfabMediaPacket media;
  g_autoptr (GBytes) inner = NULL;
  g_autoptr (GBytes) packet = NULL;
  gsize len;
  const guint8 *data;

  confab__media_packet__init (&media);
  media.media_type = CONFAB_MEDIA_RTT;
  media.user_id.data = (guint8 *) self->user_id;
  media.user_id.len = strlen (self->user_id);
  media.timestamp = g_get_monotonic_time () / 1000.0;
  inner = confab_message_pack (&media.base);
  data = g_bytes_get_data (inner, &len);
  packet = confab_packet_wrap (CONFAB_PACKET_MEDIA, self->user_id, 0, data, len);
  /* Datagrams where there are any: a lost probe is just a missing sample. */
  if (path->webtransport &&
      confab_wt_transport_send_datagram (CONFAB_WT_TRANSPORT (path->transport), packet))
    return;
  confab_transport_send (path->transport, packet);
}

/* The best path that may carry the call: WebTransport over WebSocket, then
 * the lowest mean RTT; with @measured only paths with at least one sample. */
static Path *
best_path (ConfabElection *self, gboolean measured)
{
  Path *best = NULL;

  for (guint i = 0; i < self->paths->len; i++)
    {
      Path *path = g_ptr_array_index (self->paths, i);

      if (path->state != PATH_ASSIGNED || path->draining || (measured && path->rtt_count == 0))
        continue;
      if (best == NULL || (path->webtransport && !best->webtransport))
        best = path;
      else if (path->webtransport == best->webtransport && path->rtt_count > 0 &&
               (best->rtt_count == 0 || path_rtt (path) < path_rtt (best)))
        best = path;
    }
  return best;
}

static guint
count_live (ConfabElection *self)
{
  guint n = 0;

  for (guint i = 0; i < self->paths->len; i++)
    if (path_is_live (g_ptr_array_index (self->paths, i)))
      n++;
  return n;
}

/* A WebTransport session closed here still tells the relay (capsule, FIN,
 * CONNECTION_CLOSE) after its transport lets go of it: ConfabWtSession keeps
 * its connection until then (test /net/wt/transport-close-tells-peer). */
static void
close_path (Path *path)
{
  if (!path_is_live (path))
    return;
  path->state = PATH_CLOSING;
  confab_transport_close (path->transport);
}

static gboolean on_watchdog (gpointer data);

/* @winner carries the call from now on; everything else goes. */
static void
settle (ConfabElection *self, Path *winner)
{
  for (guint i = 0; i < self->paths->len; i++)
    {
      Path *path = g_ptr_array_index (self->paths, i);

      if (path != winner)
        close_path (path);
    }
  if (!self->settled)
    {
      self->settled = TRUE;
      self->join_us = winner->assigned_us;
    }
  self->carrier_rx_us = g_get_monotonic_time ();
  stop_timer (&self->watchdog_timer);
  self->watchdog_timer = start_timer (self, WATCHDOG_MS, on_watchdog);
  g_debug ("%s carries the call (%.3f ms)", winner->url, path_rtt (winner));
  g_signal_emit (self, signals[SIGNAL_ELECTED], 0);
}

/* Hands the call to @path: the call learns (again) its session id from the
 * path's own SESSION_ASSIGNED, and its next packet activates the session. */
static void
carry (ConfabElection *self, Path *path)
{
  g_autoptr (ConfabElection) guard = g_object_ref (self);
  Path *previous = self->carrier;

  self->carrier = path;
  self->carrier_rx_us = g_get_monotonic_time ();
  /* Moving off a relay that is going away: it carried until now (no gap);
   * the new path has a session, so the old one can go. */
  if (previous != NULL && previous != path && previous->draining)
    close_path (previous);
  confab_transport_set_kind (CONFAB_TRANSPORT (self),
                             path->webtransport ? "webtransport" : "websocket");
  if (!self->joined)
    {
      self->joined = TRUE;
      self->join_us = path->assigned_us;
      confab_transport_emit_connected (CONFAB_TRANSPORT (self));
    }
  else if (self->lost)
    {
      self->lost = FALSE;
      self->reconnects++;
      self->attempt = 0;
      g_signal_emit (self, signals[SIGNAL_RESUMED], 0);
    }
  if (self->carrier == path && !self->closing)
    confab_transport_emit_packet (CONFAB_TRANSPORT (self), path->assigned);
  /* Outside a window the first path to carry is the winner. */
  if (self->carrier == path && !self->electing && !self->closing)
    settle (self, path);
}

static void start_round (ConfabElection *self);

static gboolean
on_retry (gpointer data)
{
  ConfabElection *self = data;

  g_clear_pointer (&self->retry_timer, g_source_unref);
  start_round (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (ConfabElection *self)
{
  guint delay;

  if (self->retry_timer != NULL || self->closing)
    return;
  self->attempt++;
  delay = confab_election_backoff_ms (self->attempt, g_random_double ());
  /* The relay said it is going away: try the others (or its successor) now. */
  if (self->move_now && self->attempt == 1)
    delay = 0;
  self->move_now = FALSE;
  g_debug ("no path carries the call: attempt %u in %u ms", self->attempt, delay);
  self->retry_timer = start_timer (self, delay, on_retry);
  g_signal_emit (self, signals[SIGNAL_RECONNECTING], 0, self->attempt, delay);
}

static void
end_window (ConfabElection *self)
{
  self->electing = FALSE;
  stop_timer (&self->probe_timer);
  stop_timer (&self->window_timer);
  /* It may have grown to a keyframe; the call does not need it any more. */
  g_clear_pointer (&self->arena, confab_arena_free);
}

/* Nothing is live and nothing carries: the join failed, or we retry. */
static void
check_all_dead (ConfabElection *self)
{
  g_autoptr (GError) error = NULL;

  if (self->carrier != NULL || count_live (self) > 0)
    return;
  end_window (self);
  if (self->joined)
    {
      schedule_retry (self);
      return;
    }
  error = self->first_error != NULL
              ? g_error_copy (self->first_error)
              : g_error_new_literal (CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_CONNECT,
                                     "No path to the relay");
  confab_transport_emit_closed (CONFAB_TRANSPORT (self), error);
}

static void
carrier_lost (ConfabElection *self)
{
  Path *next;

  self->carrier = NULL;
  self->lost = TRUE;
  stop_timer (&self->watchdog_timer);
  /* Another path of this round already has a session: no gap at all. */
  next = best_path (self, FALSE);
  if (next != NULL)
    {
      carry (self, next);
      return;
    }
  check_all_dead (self);
}

static gboolean
on_watchdog (gpointer data)
{
  ConfabElection *self = data;
  gint64 silent_ms = (g_get_monotonic_time () - self->carrier_rx_us) / 1000;
  Path *carrier = self->carrier;

  if (carrier == NULL)
    return G_SOURCE_CONTINUE;
  if (silent_ms >= SILENCE_DEAD_MS)
    {
      g_debug ("%s silent for %" G_GINT64_FORMAT " ms: dead", carrier->url, silent_ms);
      g_clear_pointer (&self->watchdog_timer, g_source_unref);
      /* Its own "closed" may never come; stop listening and let it go. */
      g_signal_handlers_disconnect_by_data (carrier->transport, carrier);
      close_path (carrier);
      carrier->state = PATH_CLOSED;
      schedule_reap (self);
      carrier_lost (self);
      return G_SOURCE_REMOVE;
    }
  if (silent_ms >= SILENCE_PROBE_MS)
    send_probe (self, carrier);
  return G_SOURCE_CONTINUE;
}

/* ---- path signals ----------------------------------------------------------------- */

static void on_path_draining (gpointer instance, Path *path);

static void
on_path_connected (ConfabTransport *transport, Path *path)
{
  if (path->state != PATH_CONNECTING)
    return;
  path->state = PATH_OPEN;
  if (path->webtransport && path->wt_session == NULL)
    {
      ConfabWtSession *session =
          confab_wt_transport_get_session (CONFAB_WT_TRANSPORT (path->transport));

      if (session != NULL)
        {
          path->wt_session = g_object_ref (session);
          g_signal_connect (session, "draining", G_CALLBACK (on_path_draining), path);
        }
    }
  /* A first sample as early as possible. */
  send_probe (path->election, path);
}

static void
on_path_packet (ConfabTransport *transport, GBytes *bytes, Path *path)
{
  ConfabElection *self = path->election;
  ConfabPacketWrapper *wrapper;
  double sample;
  gsize len;
  const guint8 *data;

  if (path == self->carrier)
    {
      self->carrier_rx_us = g_get_monotonic_time ();
      /* The common case: the election is over, the packet is the call's. */
      if (!self->electing)
        {
          confab_transport_emit_packet (CONFAB_TRANSPORT (self), bytes);
          return;
        }
    }

  data = g_bytes_get_data (bytes, &len);
  wrapper = unpack_wrapper (self, data, len);
  if (wrapper == NULL)
    {
      if (path == self->carrier)
        confab_transport_emit_packet (CONFAB_TRANSPORT (self), bytes);
      return;
    }

  if (wrapper->packet_type == CONFAB_PACKET_SESSION_ASSIGNED)
    {
      if (path->state == PATH_ASSIGNED || path->state == PATH_CLOSING || wrapper->session_id == 0)
        return;
      path->state = PATH_ASSIGNED;
      path->assigned_us = g_get_monotonic_time ();
      path->assigned = g_bytes_ref (bytes);
      if ((self->carrier == NULL || self->carrier->draining) && !path->draining && !self->closing)
        carry (self, path);
      return;
    }

  if (rtt_sample (self, wrapper, &sample) && sample >= 0 && sample <= RTT_MAX_MS)
    {
      path->rtt[path->rtt_next] = sample;
      path->rtt_next = (path->rtt_next + 1) % RTT_WINDOW;
      path->rtt_count = MIN (path->rtt_count + 1, RTT_WINDOW);
    }

  if (path == self->carrier)
    confab_transport_emit_packet (CONFAB_TRANSPORT (self), bytes);
}

static void
on_path_closed (ConfabTransport *transport, const GError *error, Path *path)
{
  ConfabElection *self = path->election;
  g_autoptr (ConfabElection) guard = g_object_ref (self);
  gboolean was_carrier = path == self->carrier;

  path->state = PATH_CLOSED;
  schedule_reap (self);
  if (error != NULL)
    {
      g_debug ("%s: %s", path->url, error->message);
      /* A refusal says more about the join than a path that was not there. */
      if (self->first_error == NULL || (error->code == CONFAB_TRANSPORT_ERROR_REFUSED &&
                                        self->first_error->code != CONFAB_TRANSPORT_ERROR_REFUSED))
        {
          g_clear_error (&self->first_error);
          self->first_error = g_error_copy (error);
        }
    }

  if (self->closing)
    {
      for (guint i = 0; i < self->paths->len; i++)
        if (((Path *) g_ptr_array_index (self->paths, i))->state != PATH_CLOSED)
          return;
      confab_transport_emit_closed (CONFAB_TRANSPORT (self), NULL);
      return;
    }
  if (was_carrier)
    {
      if (path->draining)
        self->move_now = TRUE;
      carrier_lost (self);
    }
  else
    check_all_dead (self);
}

/* The relay behind @path is going away (HTTP/3 GOAWAY or
 * DRAIN_WEBTRANSPORT_SESSION; WebSocket close 1001 just before the close).
 * If it carries the call, move now: another path of this round with a
 * session takes over at once; otherwise a new round starts immediately while
 * a WebTransport carrier, still open, keeps carrying until a new path has a
 * session (carry() then closes it). A WebSocket carrier is closing anyway:
 * its "closed" retries without backoff. */
static void
on_path_draining (gpointer instance, Path *path)
{
  ConfabElection *self = path->election;
  g_autoptr (ConfabElection) guard = g_object_ref (self);
  Path *next;

  if (path->draining || self->closing)
    return;
  path->draining = TRUE;
  g_debug ("%s is going away", path->url);
  if (path != self->carrier)
    return;
  self->move_now = TRUE;
  if (!path->webtransport)
    return;
  next = best_path (self, FALSE);
  if (next != NULL)
    {
      self->lost = TRUE;
      carry (self, next);
      return;
    }
  if (!self->electing && self->retry_timer == NULL)
    {
      self->lost = TRUE;
      self->move_now = FALSE;
      start_round (self);
    }
}

/* ---- rounds ------------------------------------------------------------------------ */

static gboolean
on_probe_timer (gpointer data)
{
  ConfabElection *self = data;

  for (guint i = 0; i < self->paths->len; i++)
    {
      Path *path = g_ptr_array_index (self->paths, i);

      if (path->state == PATH_OPEN || path->state == PATH_ASSIGNED)
        send_probe (self, path);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_window (gpointer data)
{
  ConfabElection *self = data;
  g_autoptr (ConfabElection) guard = g_object_ref (self);
  gboolean measured = FALSE;
  Path *winner;

  for (guint i = 0; i < self->paths->len; i++)
    {
      Path *path = g_ptr_array_index (self->paths, i);

      if (path_is_live (path) && path->rtt_count >= 2)
        measured = TRUE;
    }
  if (!measured && self->extensions < CONFAB_ELECTION_MAX_EXTENSIONS && count_live (self) > 0)
    {
      self->extensions++;
      g_clear_pointer (&self->window_timer, g_source_unref);
      self->window_timer = start_timer (self, CONFAB_ELECTION_EXTENSION_MS, on_window);
      return G_SOURCE_REMOVE;
    }

  g_clear_pointer (&self->window_timer, g_source_unref);
  end_window (self);
  winner = best_path (self, TRUE);
  if (winner == NULL)
    winner = self->carrier;
  if (winner == NULL)
    {
      /* Nothing has a session yet: the first path to get one wins (carry()). */
      return G_SOURCE_REMOVE;
    }
  if (winner != self->carrier)
    {
      g_debug ("switching from %s to %s", self->carrier != NULL ? self->carrier->url : "nothing",
               winner->url);
      /* Outside the window, carry() settles on its winner. */
      carry (self, winner);
      return G_SOURCE_REMOVE;
    }
  settle (self, winner);
  return G_SOURCE_REMOVE;
}

static void
start_round (ConfabElection *self)
{
  guint first = self->paths->len;

  g_clear_error (&self->first_error);
  self->electing = TRUE;
  self->extensions = 0;
  for (guint i = 0; self->urls[i] != NULL; i++)
    {
      const char *url = self->urls[i];
      Path *path = g_new0 (Path, 1);

      path->election = self;
      path->url = url;
      path->webtransport = g_ascii_strncasecmp (url, "https://", 8) == 0;
      /* The URLs were checked in confab_election_new(). */
      path->transport = path->webtransport
                            ? confab_wt_transport_new (url, self->cert_hash, self->insecure, NULL)
                            : confab_ws_transport_new (url, NULL);
      g_signal_connect (path->transport, "connected", G_CALLBACK (on_path_connected), path);
      g_signal_connect (path->transport, "packet", G_CALLBACK (on_path_packet), path);
      g_signal_connect (path->transport, "closed", G_CALLBACK (on_path_closed), path);
      if (!path->webtransport)
        g_signal_connect (path->transport, "draining", G_CALLBACK (on_path_draining), path);
      g_ptr_array_add (self->paths, path);
    }
  self->probe_timer = start_timer (self, CONFAB_ELECTION_PROBE_MS, on_probe_timer);
  self->window_timer = start_timer (self, self->window_ms, on_window);
  /* Opening may report a failure at once; every path exists by then. */
  for (guint i = first; i < self->paths->len && !self->closing; i++)
    confab_transport_open (((Path *) g_ptr_array_index (self->paths, i))->transport);
}

/* ---- ConfabTransport ------------------------------------------------------------------ */

static void
confab_election_open (ConfabTransport *transport)
{
  ConfabElection *self = CONFAB_ELECTION (transport);

  if (self->start_us != 0)
    return;
  self->start_us = g_get_monotonic_time ();
  start_round (self);
}

static gboolean
confab_election_send (ConfabTransport *transport, GBytes *packet)
{
  ConfabElection *self = CONFAB_ELECTION (transport);

  /* While reconnecting there is nowhere to send: the call's media is live,
   * so dropping beats queueing. */
  if (self->carrier == NULL || self->carrier->state != PATH_ASSIGNED)
    return FALSE;
  return confab_transport_send (self->carrier->transport, packet);
}

static void
confab_election_close (ConfabTransport *transport)
{
  ConfabElection *self = CONFAB_ELECTION (transport);
  g_autoptr (ConfabElection) guard = g_object_ref (self);

  if (self->closing)
    return;
  self->closing = TRUE;
  end_window (self);
  stop_timer (&self->retry_timer);
  stop_timer (&self->watchdog_timer);
  for (guint i = 0; i < self->paths->len; i++)
    close_path (g_ptr_array_index (self->paths, i));
  /* Paths closing politely report back; none left means we are done. */
  for (guint i = 0; i < self->paths->len; i++)
    if (((Path *) g_ptr_array_index (self->paths, i))->state == PATH_CLOSING)
      return;
  confab_transport_emit_closed (transport, NULL);
}

/* ---- object ------------------------------------------------------------------------------ */

static void
confab_election_dispose (GObject *object)
{
  ConfabElection *self = CONFAB_ELECTION (object);

  end_window (self);
  stop_timer (&self->retry_timer);
  stop_timer (&self->watchdog_timer);
  stop_timer (&self->reap_idle);
  self->carrier = NULL;
  if (self->paths != NULL)
    g_ptr_array_set_size (self->paths, 0);
  G_OBJECT_CLASS (confab_election_parent_class)->dispose (object);
}

static void
confab_election_finalize (GObject *object)
{
  ConfabElection *self = CONFAB_ELECTION (object);

  g_ptr_array_unref (self->paths);
  g_strfreev (self->urls);
  g_free (self->user_id);
  g_free (self->cert_hash);
  g_clear_error (&self->first_error);
  confab_arena_free (self->arena);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (confab_election_parent_class)->finalize (object);
}

static void
confab_election_class_init (ConfabElectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ConfabTransportClass *transport_class = CONFAB_TRANSPORT_CLASS (klass);

  object_class->dispose = confab_election_dispose;
  object_class->finalize = confab_election_finalize;
  transport_class->open = confab_election_open;
  transport_class->send = confab_election_send;
  transport_class->close = confab_election_close;

  signals[SIGNAL_ELECTED] = g_signal_new ("elected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_RECONNECTING] =
      g_signal_new ("reconnecting", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_UINT);
  signals[SIGNAL_RESUMED] = g_signal_new ("resumed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
confab_election_init (ConfabElection *self)
{
  self->paths = g_ptr_array_new_with_free_func ((GDestroyNotify) path_free);
}

ConfabTransport *
confab_election_new (const char *const *urls,
                     const char *user_id,
                     const ConfabElectionOptions *options,
                     GError **error)
{
  ConfabElection *self;
  const char *kind = "websocket";

  g_return_val_if_fail (user_id != NULL, NULL);

  if (urls == NULL || urls[0] == NULL)
    {
      g_set_error_literal (error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_INVALID,
                           "No relay URL to connect to");
      return NULL;
    }
  for (guint i = 0; urls[i] != NULL; i++)
    {
      gboolean wt = g_ascii_strncasecmp (urls[i], "https://", 8) == 0;
      g_autoptr (ConfabTransport) check = wt ? confab_wt_transport_new (urls[i], NULL, FALSE, error)
                                             : confab_ws_transport_new (urls[i], error);

      if (check == NULL)
        return NULL;
      if (i == 0 && wt)
        kind = "webtransport";
    }

  self = g_object_new (CONFAB_TYPE_ELECTION, "kind", kind, NULL);
  self->urls = g_strdupv ((char **) urls);
  self->user_id = g_strdup (user_id);
  self->cert_hash = options != NULL ? g_strdup (options->cert_hash) : NULL;
  self->insecure = options != NULL && options->insecure;
  self->window_ms =
      options != NULL && options->window_ms > 0 ? options->window_ms : CONFAB_ELECTION_WINDOW_MS;
  self->context = g_main_context_ref_thread_default ();
  return CONFAB_TRANSPORT (self);
}

gint64
confab_election_get_start_us (ConfabElection *self)
{
  g_return_val_if_fail (CONFAB_IS_ELECTION (self), 0);
  return self->start_us;
}

gint64
confab_election_get_join_us (ConfabElection *self)
{
  g_return_val_if_fail (CONFAB_IS_ELECTION (self), 0);
  return self->join_us;
}

guint
confab_election_get_reconnects (ConfabElection *self)
{
  g_return_val_if_fail (CONFAB_IS_ELECTION (self), 0);
  return self->reconnects;
}

const char *
confab_election_get_carrier_url (ConfabElection *self)
{
  g_return_val_if_fail (CONFAB_IS_ELECTION (self), NULL);
  return self->carrier != NULL ? self->carrier->url : NULL;
}

guint
confab_election_get_n_paths (ConfabElection *self)
{
  g_return_val_if_fail (CONFAB_IS_ELECTION (self), 0);
  return count_live (self);
}

gboolean
confab_election_is_settled (ConfabElection *self)
{
  g_return_val_if_fail (CONFAB_IS_ELECTION (self), FALSE);
  return self->settled && !self->electing;
}

double
confab_election_get_carrier_rtt_ms (ConfabElection *self)
{
  g_return_val_if_fail (CONFAB_IS_ELECTION (self), -1);
  return self->carrier != NULL ? path_rtt (self->carrier) : -1;
}
