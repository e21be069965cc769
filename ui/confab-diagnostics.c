/* confab-diagnostics.c: a popover of call statistics, refreshed once a
 * second while it is shown (never while closed). Frame rate and bitrate per
 * participant are the call's own measurements (what it reports in
 * DIAGNOSTICS); loss is measured here between refreshes. */
#define G_LOG_DOMAIN "confab-diagnostics"

#include "confab-diagnostics.h"

#include "confab-call.h"
#include "confab-election.h"

#include <glib/gi18n.h>

struct _ConfabDiagnostics
{
  GtkPopover parent_instance;

  /* Borrowed (children) */
  GtkLabel *call_label;
  GtkLabel *peers_label;

  /* Owned */
  ConfabCallSession *session;
  GHashTable *last; /* guint64 * session → PeerSample, at the previous refresh */
  guint timer;
};

typedef struct
{
  gint64 time_us;
  guint64 frames;
  guint64 received;
  guint64 gaps;
} PeerSample;

G_DEFINE_FINAL_TYPE (ConfabDiagnostics, confab_diagnostics, GTK_TYPE_POPOVER)

static const char *
codec_name (ConfabVideoCodec codec)
{
  switch (codec)
    {
      case CONFAB_VIDEO_CODEC_VP8:
        return "VP8";
      case CONFAB_VIDEO_CODEC_H264:
        return "H.264";
      case CONFAB_VIDEO_CODEC_VP9:
      default:
        return "VP9";
    }
}

/* What our camera is sent at now: the quality tier (PROTOCOL.md §5) our
 * sender adapted to, which receivers' reports move. */
static void
describe_send_tier (ConfabDiagnostics *self, GString *out)
{
  int width = 0, height = 0, fps = 0;
  guint kbps = 0;
  ConfabVideoCodec codec = CONFAB_VIDEO_CODEC_VP9;

  if (!confab_call_session_get_send_format (self->session, &width, &height, &fps, &kbps, &codec))
    {
      g_string_append_printf (out, _ ("Send tier: %s"), _ ("not sending"));
      return;
    }
  /* Translators: the video we send: width×height, frames per second,
   * bitrate, codec name (e.g. "640×360, 30 fps, 375 kbit/s, VP9"). */
  g_string_append_printf (out, _ ("Send tier: %d×%d, %d fps, %u kbit/s, %s"), width, height, fps,
                          kbps, codec_name (codec));
  /* The tier still follows receivers' reports; nothing is sent at it. */
  if (!confab_call_session_get_camera (self->session) ||
      confab_call_session_get_camera_problem (self->session) != NULL)
    g_string_append_printf (out, " (%s)", _ ("camera off"));
}

static void
describe_call (ConfabDiagnostics *self, ConfabCall *call, GString *out)
{
  ConfabTransport *transport = confab_call_get_transport (call);
  double rtt = confab_call_get_rtt_ms (call);
  const char *kind = confab_transport_get_kind (transport);

  g_string_append_printf (out, _ ("Transport: %s"),
                          g_strcmp0 (kind, "webtransport") == 0 ? "WebTransport"
                          : g_strcmp0 (kind, "websocket") == 0  ? "WebSocket"
                                                                : _ ("connecting"));
  g_string_append_c (out, '\n');
  if (CONFAB_IS_ELECTION (transport))
    {
      ConfabElection *election = CONFAB_ELECTION (transport);
      const char *url = confab_election_get_carrier_url (election);

      g_string_append_printf (out, _ ("Server: %s"), url != NULL ? url : "—");
      g_string_append_c (out, '\n');
      g_string_append_printf (out, _ ("Reconnects: %u"), confab_election_get_reconnects (election));
      g_string_append_c (out, '\n');
    }
  if (rtt >= 0)
    g_string_append_printf (out, _ ("Round trip: %.0f ms"), rtt);
  else
    g_string_append_printf (out, _ ("Round trip: %s"), _ ("not measured yet"));
  g_string_append_c (out, '\n');
  describe_send_tier (self, out);
}

static void
describe_peer (ConfabDiagnostics *self, ConfabPeer *peer, gboolean wanted, gint64 now, GString *out)
{
  guint64 session_id = confab_peer_get_session_id (peer);
  PeerSample *last = g_hash_table_lookup (self->last, &session_id);
  ConfabVideoJitterStats stats = { 0 };
  PeerSample sample = { .time_us = now, .frames = confab_peer_get_video_frames (peer) };

  if (confab_peer_get_video_jitter_stats (peer, &stats))
    {
      sample.received = stats.frames_received;
      sample.gaps = stats.gaps;
    }
  else
    sample.gaps = confab_peer_get_video_gaps (peer);

  g_string_append_printf (out, "\n%s: ", confab_peer_get_display_name (peer));
  if (last != NULL && now > last->time_us)
    {
      guint64 got = sample.received - last->received;
      guint64 lost = sample.gaps - last->gaps;

      /* Translators: video frame rate received from a participant. */
      g_string_append_printf (out, _ ("%.0f fps"), confab_peer_get_last_video_fps (peer));
      g_string_append (out, ", ");
      /* Translators: video bitrate received from a participant. */
      g_string_append_printf (out, _ ("%.0f kbit/s"), confab_peer_get_last_video_kbps (peer));
      g_string_append (out, ", ");
      /* Translators: share of video frames lost on the way, in percent. */
      g_string_append_printf (out, _ ("%.1f %% lost"),
                              got + lost > 0 ? 100.0 * lost / (got + lost) : 0.0);
      g_string_append (out, ", ");
      /* Translators: pictures decoded per second for a participant (fewer
       * than received while their tile is hidden: key frames only). */
      g_string_append_printf (out, _ ("%.0f fps decoded"), confab_peer_get_last_decoded_fps (peer));
    }
  else
    g_string_append (out, _ ("measuring…"));
  if (!confab_peer_get_video_enabled (peer))
    g_string_append_printf (out, " (%s)", _ ("camera off"));
  else if (!wanted)
    /* Translators: a participant's tile is off screen or covered. */
    g_string_append_printf (out, " (%s)", _ ("hidden"));

  if (last == NULL)
    {
      guint64 *key = g_new (guint64, 1);

      *key = session_id;
      last = g_new (PeerSample, 1);
      g_hash_table_insert (self->last, key, last);
    }
  *last = sample;
}

static gboolean
refresh (gpointer data)
{
  ConfabDiagnostics *self = data;
  ConfabCall *call = self->session != NULL ? confab_call_session_get_call (self->session) : NULL;
  g_autoptr (GString) call_text = g_string_new (NULL);
  g_autoptr (GString) peers_text = g_string_new (_ ("Video received"));
  gint64 now = g_get_monotonic_time ();
  GPtrArray *peers;
  guint n_present = 0;

  if (call == NULL)
    {
      gtk_label_set_text (self->call_label, _ ("Not in a call"));
      gtk_widget_set_visible (GTK_WIDGET (self->peers_label), FALSE);
      return G_SOURCE_CONTINUE;
    }
  describe_call (self, call, call_text);
  peers = confab_call_get_peers (call);
  for (guint i = 0; i < peers->len; i++)
    {
      ConfabPeer *peer = g_ptr_array_index (peers, i);
      gboolean wanted = TRUE;

      /* One line per person: an older session of someone who moved to a
       * newer one (transport switch) is not listed. */
      if (!confab_peer_is_present (peer) ||
          !confab_call_session_lookup_session (self->session, confab_peer_get_session_id (peer),
                                               NULL, &wanted))
        continue;
      describe_peer (self, peer, wanted, now, peers_text);
      n_present++;
    }
  if (n_present == 0)
    g_string_append_printf (peers_text, "\n%s", _ ("Nobody else is here"));
  gtk_label_set_text (self->call_label, call_text->str);
  gtk_label_set_text (self->peers_label, peers_text->str);
  gtk_widget_set_visible (GTK_WIDGET (self->peers_label), TRUE);
  return G_SOURCE_CONTINUE;
}

void
confab_diagnostics_set_session (ConfabDiagnostics *self, ConfabCallSession *session)
{
  g_return_if_fail (CONFAB_IS_DIAGNOSTICS (self));
  g_set_object (&self->session, session);
  g_hash_table_remove_all (self->last);
  if (self->timer != 0)
    refresh (self);
}

static void
confab_diagnostics_map (GtkWidget *widget)
{
  ConfabDiagnostics *self = CONFAB_DIAGNOSTICS (widget);

  GTK_WIDGET_CLASS (confab_diagnostics_parent_class)->map (widget);
  refresh (self);
  self->timer = g_timeout_add_seconds (1, refresh, self);
}

static void
confab_diagnostics_unmap (GtkWidget *widget)
{
  ConfabDiagnostics *self = CONFAB_DIAGNOSTICS (widget);

  g_clear_handle_id (&self->timer, g_source_remove);
  GTK_WIDGET_CLASS (confab_diagnostics_parent_class)->unmap (widget);
}

GtkWidget *
confab_diagnostics_new (void)
{
  return g_object_new (CONFAB_TYPE_DIAGNOSTICS, NULL);
}

static void
confab_diagnostics_dispose (GObject *object)
{
  ConfabDiagnostics *self = CONFAB_DIAGNOSTICS (object);

  g_clear_handle_id (&self->timer, g_source_remove);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (confab_diagnostics_parent_class)->dispose (object);
}

static void
confab_diagnostics_finalize (GObject *object)
{
  ConfabDiagnostics *self = CONFAB_DIAGNOSTICS (object);

  g_clear_pointer (&self->last, g_hash_table_unref);
  G_OBJECT_CLASS (confab_diagnostics_parent_class)->finalize (object);
}

static void
confab_diagnostics_class_init (ConfabDiagnosticsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_diagnostics_dispose;
  object_class->finalize = confab_diagnostics_finalize;
  widget_class->map = confab_diagnostics_map;
  widget_class->unmap = confab_diagnostics_unmap;
}

static GtkLabel *
new_label (void)
{
  GtkLabel *label = GTK_LABEL (gtk_label_new (NULL));

  gtk_label_set_xalign (label, 0);
  gtk_label_set_selectable (label, TRUE);
  gtk_label_set_wrap (label, TRUE);
  gtk_label_set_max_width_chars (label, 40);
  return label;
}

static void
confab_diagnostics_init (ConfabDiagnostics *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *title = gtk_label_new (_ ("Diagnostics"));

  self->last = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  gtk_widget_add_css_class (title, "heading");
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  self->call_label = new_label ();
  self->peers_label = new_label ();
  gtk_box_append (GTK_BOX (box), title);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->call_label));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->peers_label));
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_popover_set_child (GTK_POPOVER (self), box);
}
