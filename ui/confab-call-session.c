/* confab-call-session.c: invite → relay paths → ConfabCall, and the call's
 * events turned into what the window shows. */
#define G_LOG_DOMAIN "confab-call-session"

#include "confab-call-session.h"

#include "confab-call.h"
#include "confab-election.h"
#include "confab-media-sender.h"
#include "confab-packet.h"
#include "confab-pipewire-audio.h"
#include "confab-pipewire-camera.h"
#include "confab-playout.h"
#include "confab-video-capture.h"

#include <glib/gi18n.h>

struct _ConfabCallSession
{
  GObject parent_instance;

  /* Owned */
  ConfabInvite *invite;
  char *user_id;
  ConfabCall *call;
  GCancellable *cancellable;

  gboolean microphone_on;
  gboolean camera_on;
  gboolean leaving;
  gboolean ended;

  /* Our media (while in the call) */
  char *camera_target; /* GSettings preferences; NULL = the default device */
  char *microphone_target;
  char *speaker_target;
  GSettings *settings; /* NULL without the schema (tests of the session alone) */
  ConfabPipewire *pipewire;
  ConfabCameraSource *camera;
  ConfabAudioCapture *microphone;
  ConfabPlayout *playout; /* everyone's audio to the speaker, with the call */
  char *camera_problem;
  gboolean speaking; /* our microphone's voice activity */
  gboolean echo_cancellation;
  guint refresh_count;
  ConfabMediaSender *sender; /* with the call */
  ConfabVideoCodec codec;
  gboolean camera_rate_known;
  guint64 camera_frames; /* since the camera was (re)started */
  guint camera_watchdog; /* no picture yet: reopen once, then say so */
  guint camera_reopened;
  /* Chosen during the call: opened beside the old device, which goes on
   * sending until the new one delivers (make before break). */
  ConfabCameraSource *next_camera;
  guint next_camera_watchdog;
  ConfabAudioCapture *next_microphone;

  /* What the grid shows of each participant, refreshed once a second. */
  GHashTable *participants; /* guint64 * session → Participant */
  guint stats_timer;
};

/* One person in the room. Keyed by the first session we saw of them (@id,
 * what the window and the grid know them by); a user who moves to a newer
 * session (WebSocket -> WebTransport after the election, a reconnect, a
 * relay move) stays the same participant, now fed by @session_id. */
typedef struct
{
  guint64 id;
  guint64 session_id; /* the session carrying them now */
  char *user_id;      /* "" when not known */
  gboolean video_wanted;
  gboolean video_enabled;
  gboolean audio_enabled;
  gboolean speaking;
  ConfabLinkQuality quality;
  guint64 video_frames;
  guint64 audio_packets;
  guint64 video_gaps;
  guint silent_seconds;
} Participant;

static void
participant_free (gpointer data)
{
  Participant *p = data;

  g_free (p->user_id);
  g_free (p);
}

/* The participant whose current session is @session_id, else the one the
 * same (known) user is: chat from a session the call still hears. */
static Participant *
participant_for_peer (ConfabCallSession *self, ConfabPeer *peer)
{
  guint64 session_id = confab_peer_get_session_id (peer);
  const char *user = confab_peer_get_user_id (peer);
  GHashTableIter iter;
  Participant *p, *same_user = NULL;

  g_hash_table_iter_init (&iter, self->participants);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p))
    {
      if (p->session_id == session_id)
        return p;
      if (*user != '\0' && g_str_equal (p->user_id, user))
        same_user = p;
    }
  return same_user;
}

/* Seconds without any media from someone who says they send: "lost". */
#define CONFAB_SILENT_LOST_S     3
#define CONFAB_CAMERA_WATCHDOG_S 4
/* Heartbeat state (is_speaking above all) is looked at this often; link
 * quality once a second. */
#define CONFAB_REFRESH_MS    250
#define CONFAB_QUALITY_EVERY 4

G_DEFINE_FINAL_TYPE (ConfabCallSession, confab_call_session, G_TYPE_OBJECT)

enum
{
  SIGNAL_JOINED,
  SIGNAL_PARTICIPANT_ADDED,
  SIGNAL_PARTICIPANT_REMOVED,
  SIGNAL_ENDED,
  SIGNAL_PARTICIPANT_CHANGED,
  SIGNAL_CAMERA_FRAME,
  SIGNAL_CAMERA_CHANGED,
  SIGNAL_CHAT_MESSAGE,
  SIGNAL_RECONNECTING,
  SIGNAL_RECONNECTED,
  SIGNAL_MICROPHONE_PROBLEM,
  SIGNAL_VIDEO_FRAME,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static ConfabInvite *
invite_copy (const ConfabInvite *invite)
{
  ConfabInvite *copy = g_new0 (ConfabInvite, 1);

  copy->ws_base = g_strdup (invite->ws_base);
  copy->config_url = g_strdup (invite->config_url);
  copy->room = g_strdup (invite->room);
  copy->user = g_strdup (invite->user);
  copy->token = g_strdup (invite->token);
  copy->key = g_strdup (invite->key);
  return copy;
}

/* ---- our camera and microphone ------------------------------------------------ */

static void
set_camera_problem (ConfabCallSession *self, const char *problem)
{
  if (g_strcmp0 (problem, self->camera_problem) == 0)
    return;
  g_free (self->camera_problem);
  self->camera_problem = g_strdup (problem);
  g_signal_emit (self, signals[SIGNAL_CAMERA_CHANGED], 0);
}

static const char *
device_problem (const GError *error, gboolean camera)
{
  if (g_error_matches (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_DEVICE_GONE))
    return camera ? _ ("The camera was disconnected") : _ ("The microphone was disconnected");
  if (g_error_matches (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_FORMAT))
    return camera ? _ ("The camera offers no picture format Confab can read")
                  : _ ("The microphone offers no sound format Confab can read");
  if (g_error_matches (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_STREAM))
    return camera ? _ ("No camera found") : _ ("No microphone found");
  return _ ("Cameras and microphones are unavailable (PipeWire is not running)");
}

static void
on_camera_frame (ConfabCameraSource *camera, ConfabVideoFrame *frame, ConfabCallSession *self)
{
  g_autoptr (GError) error = NULL;
  double fps = 0;

  self->camera_frames++;
  if (self->sender != NULL && self->camera_on)
    {
      /* The encoder never assumes more pictures than the camera gives. */
      if (!self->camera_rate_known &&
          confab_camera_source_get_format (camera, NULL, NULL, &fps, NULL) && fps >= 1)
        {
          confab_media_sender_set_source_fps (self->sender, CLAMP ((int) (fps + 0.5), 1, 60));
          self->camera_rate_known = TRUE;
        }
      if (!confab_media_sender_push_video (self->sender, frame, &error))
        g_warning ("sending video: %s", error->message);
    }
  g_signal_emit (self, signals[SIGNAL_CAMERA_FRAME], 0, frame);
}

static void stop_camera (ConfabCallSession *self);

/* The call goes on without video; the self-view says why. */
static void
on_camera_error (ConfabCameraSource *camera, const GError *error, ConfabCallSession *self)
{
  g_message ("camera: %s", error->message);
  if (self->next_camera != NULL)
    {
      /* A camera chosen during the call is opening: it takes over once it
       * delivers (or says why it cannot). */
      g_clear_handle_id (&self->camera_watchdog, g_source_remove);
      g_signal_handlers_disconnect_by_data (self->camera, self);
      confab_video_capture_release_camera (g_steal_pointer (&self->camera));
      return;
    }
  stop_camera (self);
  /* Heartbeats say the camera is off, so others show our avatar. */
  if (self->sender != NULL)
    confab_media_sender_set_video_enabled (self->sender, FALSE);
  set_camera_problem (self, device_problem (error, TRUE));
}

/* The call goes on without our sound; the window says why. */
static void
microphone_failed (ConfabCallSession *self, const GError *error)
{
  g_message ("microphone: %s", error->message);
  g_signal_emit (self, signals[SIGNAL_MICROPHONE_PROBLEM], 0, device_problem (error, FALSE));
}

static void
on_microphone_error (ConfabAudioCapture *microphone, const GError *error, ConfabCallSession *self)
{
  microphone_failed (self, error);
  if (self->playout != NULL)
    confab_playout_set_echo_processing (self->playout, NULL);
  g_signal_handlers_disconnect_by_data (self->microphone, self);
  g_clear_object (&self->microphone);
}

static gboolean
ensure_pipewire (ConfabCallSession *self, GError **error)
{
  if (self->pipewire != NULL && confab_pipewire_is_connected (self->pipewire))
    return TRUE;
  g_clear_object (&self->pipewire);
  self->pipewire = confab_pipewire_new (-1, error);
  return self->pipewire != NULL;
}

static void
drop_next_camera (ConfabCallSession *self)
{
  g_clear_handle_id (&self->next_camera_watchdog, g_source_remove);
  if (self->next_camera == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->next_camera, self);
  confab_video_capture_release_camera (g_steal_pointer (&self->next_camera));
}

static void
stop_camera (ConfabCallSession *self)
{
  drop_next_camera (self);
  g_clear_handle_id (&self->camera_watchdog, g_source_remove);
  if (self->camera == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->camera, self);
  confab_video_capture_release_camera (g_steal_pointer (&self->camera));
}

static void start_camera (ConfabCallSession *self);

/* A camera that never sends a picture (a shared stream that stalled, a
 * device that hangs) is opened afresh once, then the self-view says so. */
static gboolean
on_camera_watchdog (gpointer data)
{
  ConfabCallSession *self = data;

  self->camera_watchdog = 0;
  if (self->camera == NULL || self->camera_frames > 0)
    return G_SOURCE_REMOVE;
  if (self->camera_reopened++ == 0)
    {
      g_message ("camera: no picture in %d s, opening it again", CONFAB_CAMERA_WATCHDOG_S);
      confab_video_capture_forget (self->camera);
      stop_camera (self);
      start_camera (self);
      return G_SOURCE_REMOVE;
    }
  set_camera_problem (self, _ ("The camera sends no pictures"));
  return G_SOURCE_REMOVE;
}

static void
start_camera (ConfabCallSession *self)
{
  g_autoptr (GError) error = NULL;

  if (self->camera != NULL || self->ended)
    return;
  self->camera = confab_video_capture_acquire_camera (self->camera_target, &error);
  if (self->camera == NULL)
    {
      g_message ("camera: %s", error->message);
      set_camera_problem (self, device_problem (error, TRUE));
      return;
    }
  g_signal_connect (self->camera, "frame", G_CALLBACK (on_camera_frame), self);
  g_signal_connect (self->camera, "error", G_CALLBACK (on_camera_error), self);
  self->camera_rate_known = FALSE;
  self->camera_frames = 0;
  self->camera_watchdog =
      g_timeout_add_seconds (CONFAB_CAMERA_WATCHDOG_S, on_camera_watchdog, self);
  if (self->sender != NULL)
    confab_media_sender_set_video_enabled (self->sender, self->camera_on);
  set_camera_problem (self, NULL);
}

static void
on_microphone_chunk (ConfabAudioCapture *microphone, gpointer samples, ConfabCallSession *self)
{
  g_autoptr (GError) error = NULL;

  if (self->sender != NULL && self->microphone_on &&
      !confab_media_sender_push_audio (self->sender, samples, &error))
    g_warning ("sending audio: %s", error->message);
}

static void
on_sender_error (ConfabMediaSender *sender, const GError *error, ConfabCallSession *self)
{
  g_warning ("sending media: %s", error->message);
}

static void
set_speaking (ConfabCallSession *self, gboolean speaking)
{
  if (self->speaking == !!speaking)
    return;
  self->speaking = !!speaking;
  if (self->call != NULL)
    confab_call_set_speaking (self->call, self->speaking);
  g_signal_emit (self, signals[SIGNAL_CAMERA_CHANGED], 0);
}

static void
on_microphone_speaking (ConfabAudioCapture *microphone, gboolean speaking, ConfabCallSession *self)
{
  set_speaking (self, speaking);
}

static void
drop_next_microphone (ConfabCallSession *self)
{
  if (self->next_microphone == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->next_microphone, self);
  g_clear_object (&self->next_microphone);
}

static void
stop_microphone (ConfabCallSession *self)
{
  drop_next_microphone (self);
  if (self->microphone == NULL)
    return;
  if (self->playout != NULL)
    confab_playout_set_echo_processing (self->playout, NULL);
  g_signal_handlers_disconnect_by_data (self->microphone, self);
  g_clear_object (&self->microphone);
  set_speaking (self, FALSE);
}

/* The preferred microphone, processed as the settings say (NULL: logged). */
static ConfabAudioCapture *
open_microphone (ConfabCallSession *self)
{
  g_autoptr (GError) error = NULL;
  ConfabAudioCapture *microphone = NULL;

  if (ensure_pipewire (self, &error))
    microphone = confab_audio_capture_new (self->pipewire, self->microphone_target, FALSE, &error);
  if (microphone == NULL)
    {
      microphone_failed (self, error);
      return NULL;
    }
  if (confab_audio_capture_get_processing (microphone) != NULL)
    confab_audio_processing_set_enabled (confab_audio_capture_get_processing (microphone),
                                         self->echo_cancellation);
  return microphone;
}

/* self->microphone sends from now on. */
static void
use_microphone (ConfabCallSession *self)
{
  g_signal_connect (self->microphone, "chunk", G_CALLBACK (on_microphone_chunk), self);
  g_signal_connect (self->microphone, "speaking-changed", G_CALLBACK (on_microphone_speaking),
                    self);
  g_signal_connect (self->microphone, "error", G_CALLBACK (on_microphone_error), self);
  /* What the speaker plays is what the microphone may hear again. */
  if (self->playout != NULL)
    confab_playout_set_echo_processing (self->playout,
                                        confab_audio_capture_get_processing (self->microphone));
}

static void
start_microphone (ConfabCallSession *self)
{
  if (self->microphone != NULL || self->ended)
    return;
  self->microphone = open_microphone (self);
  if (self->microphone != NULL)
    use_microphone (self);
}

/* A speaker that vanishes (or PipeWire going away) leaves the call silent,
 * not ended: the playout has stopped itself. */
static void
on_playout_error (ConfabPlayout *playout, const GError *error, ConfabCallSession *self)
{
  g_message ("speaker: %s", error->message);
}

/* Everyone's audio, mixed, on the preferred speaker (else the default). */
static void
start_playout (ConfabCallSession *self)
{
  g_autoptr (GError) error = NULL;

  self->playout = confab_playout_new (self->call, self->speaker_target);
  g_signal_connect (self->playout, "error", G_CALLBACK (on_playout_error), self);
  if (self->microphone != NULL)
    confab_playout_set_echo_processing (self->playout,
                                        confab_audio_capture_get_processing (self->microphone));
  if (!ensure_pipewire (self, &error) ||
      !confab_playout_start (self->playout, self->pipewire, &error))
    g_message ("speaker: %s", error->message);
}

static void
stop_playout (ConfabCallSession *self)
{
  if (self->playout == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->playout, self);
  confab_playout_stop (self->playout);
  g_clear_object (&self->playout);
}

static void
stop_media (ConfabCallSession *self)
{
  if (self->call != NULL && self->sender != NULL)
    {
      int width, height, fps;

      confab_media_sender_get_encoded_format (self->sender, &width, &height, &fps);
      g_message ("leaving: %" G_GUINT64_FORMAT
                 " camera pictures since it (re)started, %" G_GUINT64_FORMAT
                 " video frames (last %dx%d@%d; encode %.2f ms on the encoder thread, %.0f µs CPU"
                 " on this one per frame; %" G_GUINT64_FORMAT " replaced while it was busy)"
                 " and %" G_GUINT64_FORMAT " audio packets sent",
                 self->camera_frames, confab_call_get_sent_video_frames (self->call), width, height,
                 fps, confab_media_sender_get_encode_ms_avg (self->sender),
                 confab_media_sender_get_caller_us_avg (self->sender),
                 confab_media_sender_get_frames_replaced (self->sender),
                 confab_call_get_sent_audio_packets (self->call));
    }
  stop_playout (self);
  stop_camera (self);
  stop_microphone (self);
  g_clear_object (&self->pipewire);
  if (self->sender != NULL)
    g_signal_handlers_disconnect_by_data (self->sender, self);
  g_clear_object (&self->sender);
  g_clear_handle_id (&self->stats_timer, g_source_remove);
}

/* ---- participants' state --------------------------------------------------------- */

static ConfabLinkQuality
judge_quality (Participant *p, ConfabPeer *peer)
{
  guint64 frames = confab_peer_get_video_frames (peer);
  guint64 packets = confab_peer_get_audio_packets (peer);
  guint64 gaps = confab_peer_get_video_gaps (peer);
  guint64 new_frames = frames - p->video_frames;
  guint64 new_packets = packets - p->audio_packets;
  guint64 new_gaps = gaps - p->video_gaps;
  gboolean sends = confab_peer_get_video_enabled (peer) || confab_peer_get_audio_enabled (peer);

  p->video_frames = frames;
  p->audio_packets = packets;
  p->video_gaps = gaps;
  if (!sends)
    {
      p->silent_seconds = 0;
      return CONFAB_LINK_QUALITY_UNKNOWN;
    }
  if (new_frames + new_packets == 0)
    {
      p->silent_seconds++;
      return p->silent_seconds >= CONFAB_SILENT_LOST_S ? CONFAB_LINK_QUALITY_LOST : p->quality;
    }
  p->silent_seconds = 0;
  /* Frames lost on the way, as a share of those that should have come. */
  if (new_gaps * 10 > new_frames + new_gaps)
    return CONFAB_LINK_QUALITY_POOR;
  if (new_gaps * 50 > new_frames + new_gaps)
    return CONFAB_LINK_QUALITY_FAIR;
  return CONFAB_LINK_QUALITY_GOOD;
}

static gboolean
refresh_participants (gpointer data)
{
  ConfabCallSession *self = data;
  GHashTableIter iter;
  Participant *p;

  gboolean judge;

  if (self->call == NULL)
    return G_SOURCE_CONTINUE;
  judge = self->refresh_count++ % CONFAB_QUALITY_EVERY == 0;
  g_hash_table_iter_init (&iter, self->participants);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p))
    {
      ConfabPeer *peer = confab_call_lookup_peer (self->call, p->session_id);
      gboolean video, audio, speaking;
      ConfabLinkQuality quality;

      if (peer == NULL)
        continue;
      video = confab_peer_get_video_enabled (peer);
      audio = confab_peer_get_audio_enabled (peer);
      speaking = audio && confab_peer_get_is_speaking (peer);
      quality = judge ? judge_quality (p, peer) : p->quality;
      if (video == p->video_enabled && audio == p->audio_enabled && speaking == p->speaking &&
          quality == p->quality)
        continue;
      p->video_enabled = video;
      p->audio_enabled = audio;
      p->speaking = speaking;
      p->quality = quality;
      g_signal_emit (self, signals[SIGNAL_PARTICIPANT_CHANGED], 0, p->session_id);
    }
  return G_SOURCE_CONTINUE;
}

static void
end (ConfabCallSession *self, const GError *error)
{
  if (self->ended)
    return;
  self->ended = TRUE;
  stop_media (self);
  g_signal_emit (self, signals[SIGNAL_ENDED], 0, error);
}

static void
on_video_frame (ConfabCall *call, ConfabPeer *peer, ConfabCallSession *self)
{
  g_signal_emit (self, signals[SIGNAL_VIDEO_FRAME], 0);
}

/* [confab] chat and reconnects, for the window (helper H's announced edit). */
static void
on_chat_message (ConfabCall *call,
                 ConfabPeer *peer,
                 const char *id,
                 const char *display_name,
                 const char *text,
                 guint64 timestamp_ms,
                 ConfabCallSession *self)
{
  const char *name = *display_name != '\0' ? display_name : confab_peer_get_display_name (peer);
  Participant *p = participant_for_peer (self, peer);

  g_signal_emit (self, signals[SIGNAL_CHAT_MESSAGE], 0,
                 p != NULL ? p->id : confab_peer_get_session_id (peer), name, text);
}

static void
on_reconnecting (ConfabTransport *transport, guint attempt, guint ms, ConfabCallSession *self)
{
  g_message ("reconnecting: attempt %u in %u ms", attempt, ms);
  /* Once per outage: later attempts of the same outage say nothing new. */
  if (attempt == 1)
    g_signal_emit (self, signals[SIGNAL_RECONNECTING], 0);
}

static void
on_resumed (ConfabTransport *transport, ConfabCallSession *self)
{
  g_signal_emit (self, signals[SIGNAL_RECONNECTED], 0);
}

gboolean
confab_call_session_send_chat (ConfabCallSession *self,
                               const char *text,
                               const char *display_name,
                               GError **error)
{
  g_autofree char *id = NULL;

  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), FALSE);
  if (self->call == NULL || self->ended)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, _ ("Not in the call yet"));
      return FALSE;
    }
  id = confab_call_send_chat (self->call, text, display_name, NULL, error);
  return id != NULL;
}

ConfabCall *
confab_call_session_get_call (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), NULL);
  return self->call;
}

static void
on_session_assigned (ConfabCall *call, guint64 session_id, ConfabCallSession *self)
{
  g_signal_emit (self, signals[SIGNAL_JOINED], 0);
}

typedef struct
{
  ConfabCallSession *self;
  ConfabPeer *peer;
} PeerAnnouncement;

static void
peer_announcement_free (gpointer data)
{
  PeerAnnouncement *announcement = data;

  g_object_unref (announcement->self);
  g_object_unref (announcement->peer);
  g_free (announcement);
}

/* TRUE when @peer appeared after session @than (or @than is gone): a late
 * packet from an old session that came back to life must not take the
 * person back from the session that carries them now. */
static gboolean
is_newer_session (ConfabCallSession *self, ConfabPeer *peer, guint64 than)
{
  GPtrArray *peers = confab_call_get_peers (self->call);
  ConfabPeer *current = confab_call_lookup_peer (self->call, than);
  guint peer_index = 0, current_index = 0;

  if (current == NULL || !confab_peer_is_present (current))
    return TRUE;
  g_ptr_array_find (peers, peer, &peer_index);
  g_ptr_array_find (peers, current, &current_index);
  return peer_index > current_index;
}

static gboolean
announce_peer (gpointer data)
{
  PeerAnnouncement *announcement = data;

  ConfabCallSession *self = announcement->self;
  ConfabPeer *peer = announcement->peer;
  Participant *p;

  if (self->ended || !confab_peer_is_present (peer))
    return G_SOURCE_REMOVE;
  p = participant_for_peer (self, peer);
  if (p != NULL && p->session_id != confab_peer_get_session_id (peer) &&
      is_newer_session (self, peer, p->session_id))
    {
      /* The same person on a newer session: no second tile, no "joined";
       * their pictures now come from it (it starts with a key frame). */
      g_message ("%s moved to session %" G_GUINT64_FORMAT, confab_peer_get_display_name (peer),
                 confab_peer_get_session_id (peer));
      p->session_id = confab_peer_get_session_id (peer);
      p->video_frames = confab_peer_get_video_frames (peer);
      p->audio_packets = confab_peer_get_audio_packets (peer);
      p->video_gaps = confab_peer_get_video_gaps (peer);
      confab_call_set_peer_video_wanted (self->call, p->session_id, p->video_wanted);
      g_signal_emit (self, signals[SIGNAL_PARTICIPANT_CHANGED], 0, p->id);
      return G_SOURCE_REMOVE;
    }
  if (p != NULL)
    return G_SOURCE_REMOVE;
  p = g_new0 (Participant, 1);
  p->id = p->session_id = confab_peer_get_session_id (peer);
  p->user_id = g_strdup (confab_peer_get_user_id (peer));
  p->video_wanted = TRUE;
  p->video_enabled = confab_peer_get_video_enabled (peer);
  p->audio_enabled = confab_peer_get_audio_enabled (peer);
  g_hash_table_replace (self->participants, &p->id, p);
  g_signal_emit (self, signals[SIGNAL_PARTICIPANT_ADDED], 0, p->id,
                 confab_peer_get_display_name (peer));
  return G_SOURCE_REMOVE;
}

/* "peer-joined" comes before the packet that announced the peer has given it
 * a name, so the window hears of it once that packet is handled. */
static void
on_peer_joined (ConfabCall *call, ConfabPeer *peer, ConfabCallSession *self)
{
  PeerAnnouncement *announcement = g_new0 (PeerAnnouncement, 1);

  announcement->self = g_object_ref (self);
  announcement->peer = g_object_ref (peer);
  g_idle_add_full (G_PRIORITY_DEFAULT, announce_peer, announcement, peer_announcement_free);
}

static void
on_peer_left (ConfabCall *call, ConfabPeer *peer, ConfabCallSession *self)
{
  guint64 session_id = confab_peer_get_session_id (peer);
  Participant *p = participant_for_peer (self, peer);
  guint64 id;

  g_message ("%s left (%s)", confab_peer_get_display_name (peer),
             confab_peer_is_present (peer) ? "still present" : "gone or silent");
  /* An older session of someone already on a newer one: nothing changes
   * for the person. */
  if (p == NULL || p->session_id != session_id)
    return;
  id = p->id;
  g_hash_table_remove (self->participants, &id);
  /* The second argument: the person is still here on a newer session. */
  g_signal_emit (self, signals[SIGNAL_PARTICIPANT_REMOVED], 0, id,
                 confab_peer_is_superseded (peer));
}

static void
on_call_closed (ConfabCall *call, const GError *error, ConfabCallSession *self)
{
  end (self, self->leaving ? NULL : error);
}

/* A webTransportHost entry as a base URL: a bare host:port means https://. */
static char *
webtransport_base (const char *host)
{
  if (g_str_has_prefix (host, "https://"))
    return g_strdup (host);
  return g_strdup_printf ("https://%s", host);
}

/* Every path the relay offers, WebTransport first (PROTOCOL.md §5). */
static void
start_call (ConfabCallSession *self,
            const char *const *wt_bases,
            const char *const *ws_bases,
            const char *cert_hash)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabTransport) transport = NULL;
  g_auto (GStrv) urls = NULL;
  ConfabElectionOptions options = { .cert_hash = cert_hash };

  for (guint pass = 0; pass < 2; pass++)
    {
      const char *const *bases = pass == 0 ? wt_bases : ws_bases;

      for (guint i = 0; bases != NULL && bases[i] != NULL; i++)
        {
          g_autofree char *base = pass == 0 ? webtransport_base (bases[i]) : g_strdup (bases[i]);
          g_autofree char *lobby =
              confab_invite_lobby_url (self->invite, base, self->user_id, &error);

          if (lobby == NULL)
            {
              end (self, error);
              return;
            }
          g_strv_builder_add (builder, lobby);
        }
    }
  urls = g_strv_builder_end (builder);
  if (urls[0] == NULL)
    {
      g_set_error_literal (&error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_CONFIG,
                           _ ("The server offers no way to connect"));
      end (self, error);
      return;
    }

  transport = confab_election_new ((const char *const *) urls, self->user_id, &options, &error);
  if (transport == NULL)
    {
      end (self, error);
      return;
    }
  self->call = confab_call_new (transport, self->user_id);
  {
    /* The camera's size and rate, as far as the quality tier allows (720p30
     * at the top): the sender encodes on its own thread, so a 720p encode
     * no longer holds up the grid on this (main) thread. */
    ConfabMediaSenderConfig config = {
      .codec = self->codec,
      .adapt = TRUE,
    };

    self->sender = confab_media_sender_new (self->call, &config);
    /* Heartbeats follow the toggles (a camera that vanishes mid-call turns
     * video off: on_camera_error). */
    confab_media_sender_set_video_enabled (self->sender, self->camera_on);
    confab_media_sender_set_audio_enabled (self->sender, self->microphone_on);
    g_signal_connect (self->sender, "error", G_CALLBACK (on_sender_error), self);
  }
  /* Everyone's video decoded for the grid, which takes the newest picture,
   * and everyone's audio buffered for the playout, whose clock also paces
   * the pictures (lip sync). */
  confab_call_set_receive_media (self->call, TRUE, TRUE);
  /* Decoding off the main thread, which also draws the grid. */
  confab_call_set_decode_threads (self->call, MIN (2, g_get_num_processors ()));
  start_playout (self);
  g_signal_connect_object (self->call, "session-assigned", G_CALLBACK (on_session_assigned), self,
                           0);
  g_signal_connect_object (self->call, "peer-joined", G_CALLBACK (on_peer_joined), self, 0);
  g_signal_connect_object (self->call, "peer-left", G_CALLBACK (on_peer_left), self, 0);
  g_signal_connect_object (self->call, "closed", G_CALLBACK (on_call_closed), self, 0);
  g_signal_connect_object (self->call, "chat-message", G_CALLBACK (on_chat_message), self, 0);
  g_signal_connect_object (self->call, "video-frame", G_CALLBACK (on_video_frame), self, 0);
  g_signal_connect_object (transport, "reconnecting", G_CALLBACK (on_reconnecting), self, 0);
  g_signal_connect_object (transport, "resumed", G_CALLBACK (on_resumed), self, 0);
  confab_call_start (self->call);
  self->stats_timer = g_timeout_add (CONFAB_REFRESH_MS, refresh_participants, self);
}

static void
on_config_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (ConfabCallSession) self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabServerConfig) config = confab_server_config_fetch_finish (result, &error);

  if (self->leaving || self->ended)
    return;
  if (config == NULL)
    {
      end (self, error);
      return;
    }
  start_call (
      self, config->webtransport_enabled ? (const char *const *) config->webtransport_hosts : NULL,
      (const char *const *) config->ws_urls, config->webtransport_cert_hash);
}

void
confab_call_session_start (ConfabCallSession *self)
{
  g_return_if_fail (CONFAB_IS_CALL_SESSION (self));
  g_return_if_fail (self->call == NULL);

  /* Capture starts at once, so the self-view shows while we connect. */
  if (self->camera_on)
    start_camera (self);
  if (self->microphone_on)
    start_microphone (self);
  if (self->invite->ws_base != NULL)
    {
      const char *ws_bases[] = { self->invite->ws_base, NULL };

      start_call (self, NULL, ws_bases, NULL);
      return;
    }
  confab_server_config_fetch_async (self->invite->config_url, self->cancellable, on_config_fetched,
                                    g_object_ref (self));
}

void
confab_call_session_leave (ConfabCallSession *self)
{
  g_return_if_fail (CONFAB_IS_CALL_SESSION (self));

  if (self->leaving || self->ended)
    return;
  self->leaving = TRUE;
  g_cancellable_cancel (self->cancellable);
  if (self->call != NULL)
    confab_call_leave (self->call); /* "closed" ends us */
  else
    end (self, NULL);
}

/* Another speaker chosen in the preferences during the call: playout moves
 * there now. */
static void
on_speaker_setting_changed (GSettings *settings, const char *key, ConfabCallSession *self)
{
  g_autofree char *speaker = g_settings_get_string (settings, "preferred-speaker");
  g_autoptr (GError) error = NULL;

  g_free (self->speaker_target);
  self->speaker_target = *speaker != '\0' ? g_steal_pointer (&speaker) : NULL;
  if (self->playout == NULL)
    return;
  /* Also after the last speaker vanished (the playout stopped itself). */
  if (!confab_playout_set_target (self->playout, self->speaker_target, &error) ||
      (!confab_playout_is_playing (self->playout) &&
       (!ensure_pipewire (self, &error) ||
        !confab_playout_start (self->playout, self->pipewire, &error))))
    g_message ("speaker: %s", error->message);
  else
    g_message ("speaker: now %s",
               self->speaker_target != NULL ? self->speaker_target : "the default");
}

/* ---- a camera or microphone chosen during the call ------------------------ */

/* The new camera failed before its first picture. It was the user's choice,
 * so the old one does not go on silently: video stops and the self-view
 * says why, as when a camera vanishes. */
static void
next_camera_failed (ConfabCallSession *self, const char *problem)
{
  stop_camera (self);
  if (self->sender != NULL)
    confab_media_sender_set_video_enabled (self->sender, FALSE);
  set_camera_problem (self, problem);
}

static void
on_next_camera_error (ConfabCameraSource *camera, const GError *error, ConfabCallSession *self)
{
  g_message ("camera: %s", error->message);
  next_camera_failed (self, device_problem (error, TRUE));
}

static gboolean
on_next_camera_watchdog (gpointer data)
{
  ConfabCallSession *self = data;

  self->next_camera_watchdog = 0;
  g_message ("camera: the new camera sent no picture in %d s", CONFAB_CAMERA_WATCHDOG_S);
  next_camera_failed (self, _ ("The camera sends no pictures"));
  return G_SOURCE_REMOVE;
}

/* The new camera's first picture: it takes over from the old one, and the
 * sender's next picture is a key frame, so every peer (also one decoding
 * only key frames of a hidden tile) sees the new camera at once. */
static void
on_next_camera_frame (ConfabCameraSource *camera, ConfabVideoFrame *frame, ConfabCallSession *self)
{
  ConfabCameraSource *next = g_steal_pointer (&self->next_camera);

  g_clear_handle_id (&self->next_camera_watchdog, g_source_remove);
  g_signal_handlers_disconnect_by_data (next, self);
  stop_camera (self);
  self->camera = next;
  g_signal_connect (self->camera, "frame", G_CALLBACK (on_camera_frame), self);
  g_signal_connect (self->camera, "error", G_CALLBACK (on_camera_error), self);
  self->camera_rate_known = FALSE;
  self->camera_frames = 0;
  self->camera_reopened = 0;
  set_camera_problem (self, NULL);
  if (self->sender != NULL)
    {
      confab_media_sender_set_video_enabled (self->sender, self->camera_on);
      confab_media_sender_request_keyframe (self->sender);
    }
  g_message ("camera: now %s", self->camera_target != NULL ? self->camera_target : "the default");
  on_camera_frame (self->camera, frame, self);
}

static void
on_camera_setting_changed (GSettings *settings, const char *key, ConfabCallSession *self)
{
  g_autofree char *camera = g_settings_get_string (settings, "preferred-camera");
  g_autoptr (GError) error = NULL;

  if (g_strcmp0 (*camera != '\0' ? camera : NULL, self->camera_target) == 0)
    return;
  g_free (self->camera_target);
  self->camera_target = *camera != '\0' ? g_steal_pointer (&camera) : NULL;
  drop_next_camera (self);
  /* Camera off: the next start opens the new one. */
  if (self->ended || self->leaving || !self->camera_on)
    return;
  if (self->camera == NULL)
    {
      start_camera (self);
      return;
    }
  self->next_camera = confab_video_capture_acquire_camera (self->camera_target, &error);
  if (self->next_camera == NULL)
    {
      g_message ("camera: %s", error->message);
      next_camera_failed (self, device_problem (error, TRUE));
      return;
    }
  g_signal_connect (self->next_camera, "frame", G_CALLBACK (on_next_camera_frame), self);
  g_signal_connect (self->next_camera, "error", G_CALLBACK (on_next_camera_error), self);
  self->next_camera_watchdog =
      g_timeout_add_seconds (CONFAB_CAMERA_WATCHDOG_S, on_next_camera_watchdog, self);
}

/* The new microphone failed before its first sound: as when a microphone
 * vanishes, the call goes on without sending sound (no silent fallback to
 * the old one the user chose away from). */
static void
on_next_microphone_error (ConfabAudioCapture *microphone,
                          const GError *error,
                          ConfabCallSession *self)
{
  microphone_failed (self, error);
  stop_microphone (self);
}

/* The new microphone's first 20 ms: it takes over; its processing becomes
 * the playout's echo reference. */
static void
on_next_microphone_chunk (ConfabAudioCapture *microphone, gpointer samples, ConfabCallSession *self)
{
  ConfabAudioCapture *next = g_steal_pointer (&self->next_microphone);

  g_signal_handlers_disconnect_by_data (next, self);
  stop_microphone (self);
  self->microphone = next;
  use_microphone (self);
  g_message ("microphone: now %s",
             self->microphone_target != NULL ? self->microphone_target : "the default");
  on_microphone_chunk (self->microphone, samples, self);
}

static void
on_microphone_setting_changed (GSettings *settings, const char *key, ConfabCallSession *self)
{
  g_autofree char *microphone = g_settings_get_string (settings, "preferred-microphone");

  if (g_strcmp0 (*microphone != '\0' ? microphone : NULL, self->microphone_target) == 0)
    return;
  g_free (self->microphone_target);
  self->microphone_target = *microphone != '\0' ? g_steal_pointer (&microphone) : NULL;
  drop_next_microphone (self);
  /* Muted: the next start opens the new one. */
  if (self->ended || self->leaving || !self->microphone_on)
    return;
  if (self->microphone == NULL)
    {
      start_microphone (self);
      return;
    }
  self->next_microphone = open_microphone (self);
  if (self->next_microphone == NULL)
    {
      stop_microphone (self);
      return;
    }
  g_signal_connect (self->next_microphone, "chunk", G_CALLBACK (on_next_microphone_chunk), self);
  g_signal_connect (self->next_microphone, "error", G_CALLBACK (on_next_microphone_error), self);
}

/* The devices chosen on the pre-join page or in the preferences. */
static void
read_device_preferences (ConfabCallSession *self)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;
  GSettings *settings;
  g_autofree char *camera = NULL;
  g_autofree char *microphone = NULL;
  g_autofree char *speaker = NULL;
  g_autofree char *codec = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, "io.github.confab.Confab", TRUE);
  if (schema == NULL)
    return;
  settings = self->settings = g_settings_new ("io.github.confab.Confab");
  g_signal_connect (settings, "changed::preferred-speaker", G_CALLBACK (on_speaker_setting_changed),
                    self);
  g_signal_connect (settings, "changed::preferred-camera", G_CALLBACK (on_camera_setting_changed),
                    self);
  g_signal_connect (settings, "changed::preferred-microphone",
                    G_CALLBACK (on_microphone_setting_changed), self);
  codec = g_settings_get_string (settings, "codec");
  if (!confab_video_codec_from_string (codec, &self->codec))
    self->codec = CONFAB_VIDEO_CODEC_VP9;
  self->echo_cancellation = g_settings_get_boolean (settings, "echo-cancellation");
  camera = g_settings_get_string (settings, "preferred-camera");
  microphone = g_settings_get_string (settings, "preferred-microphone");
  self->camera_target = *camera != '\0' ? g_steal_pointer (&camera) : NULL;
  self->microphone_target = *microphone != '\0' ? g_steal_pointer (&microphone) : NULL;
  speaker = g_settings_get_string (settings, "preferred-speaker");
  self->speaker_target = *speaker != '\0' ? g_steal_pointer (&speaker) : NULL;
}

ConfabCallSession *
confab_call_session_new (const ConfabInvite *invite,
                         const char *display_name,
                         gboolean microphone_on,
                         gboolean camera_on,
                         GError **error)
{
  g_autoptr (ConfabCallSession) self = NULL;
  g_autofree char *user_id = NULL;

  g_return_val_if_fail (invite != NULL, NULL);

  /* The name typed on the pre-join page, else the link's; spaces become '_'
   * as everywhere in the protocol. */
  if (display_name != NULL)
    {
      g_autofree char *trimmed = g_strstrip (g_strdup (display_name));

      if (*trimmed != '\0')
        user_id = confab_name_normalize (trimmed);
    }
  if (user_id == NULL && invite->user != NULL)
    user_id = confab_name_normalize (invite->user);
  if (user_id == NULL || !confab_name_is_valid (user_id))
    {
      g_set_error_literal (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID,
                           _ ("A display name may use letters, digits, spaces, “-” and “_”"));
      return NULL;
    }

  self = g_object_new (CONFAB_TYPE_CALL_SESSION, NULL);
  self->invite = invite_copy (invite);
  self->user_id = g_steal_pointer (&user_id);
  read_device_preferences (self);
  self->microphone_on = microphone_on;
  self->camera_on = camera_on;
  return g_steal_pointer (&self);
}

const char *
confab_call_session_get_room (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), NULL);
  return self->invite->room;
}

const char *
confab_call_session_get_user_id (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), NULL);
  return self->user_id;
}

void
confab_call_session_set_microphone (ConfabCallSession *self, gboolean on)
{
  g_return_if_fail (CONFAB_IS_CALL_SESSION (self));
  self->microphone_on = !!on;
  if (self->sender != NULL)
    confab_media_sender_set_audio_enabled (self->sender, self->microphone_on);
  /* Muted means not recorded at all (the system's microphone indicator goes off). */
  if (self->call != NULL && on)
    start_microphone (self);
  else if (!on)
    stop_microphone (self);
  g_signal_emit (self, signals[SIGNAL_CAMERA_CHANGED], 0);
}

void
confab_call_session_set_camera (ConfabCallSession *self, gboolean on)
{
  g_return_if_fail (CONFAB_IS_CALL_SESSION (self));
  self->camera_on = !!on;
  if (self->sender != NULL)
    confab_media_sender_set_video_enabled (self->sender, self->camera_on);
  /* Off releases the camera (its light goes out); on tries again, also
   * after the camera had gone away. */
  if (self->call != NULL && on)
    {
      self->camera_reopened = 0;
      start_camera (self);
    }
  else if (!on)
    {
      stop_camera (self);
      set_camera_problem (self, NULL);
    }
  g_signal_emit (self, signals[SIGNAL_CAMERA_CHANGED], 0);
}

gboolean
confab_call_session_get_microphone (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), FALSE);
  return self->microphone_on;
}

gboolean
confab_call_session_get_camera (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), FALSE);
  return self->camera_on;
}

ConfabVideoFrame *
confab_call_session_take_video_frame (ConfabCallSession *self, guint64 session_id)
{
  ConfabPeer *peer;
  Participant *p;

  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), NULL);
  if (self->call == NULL)
    return NULL;
  p = g_hash_table_lookup (self->participants, &session_id);
  peer = p != NULL ? confab_call_lookup_peer (self->call, p->session_id) : NULL;
  return peer != NULL ? confab_peer_take_video_frame (peer) : NULL;
}

void
confab_call_session_set_video_wanted (ConfabCallSession *self, guint64 session_id, gboolean wanted)
{
  Participant *p;

  g_return_if_fail (CONFAB_IS_CALL_SESSION (self));
  p = g_hash_table_lookup (self->participants, &session_id);
  if (p == NULL || p->video_wanted == !!wanted)
    return;
  p->video_wanted = !!wanted;
  g_debug ("video of %" G_GUINT64_FORMAT " %s", session_id, wanted ? "wanted" : "not wanted");
  if (self->call != NULL)
    confab_call_set_peer_video_wanted (self->call, p->session_id, wanted);
}

gboolean
confab_call_session_lookup_session (ConfabCallSession *self,
                                    guint64 session_id,
                                    guint64 *participant_id,
                                    gboolean *video_wanted)
{
  GHashTableIter iter;
  Participant *p;

  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), FALSE);
  g_hash_table_iter_init (&iter, self->participants);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &p))
    if (p->session_id == session_id)
      {
        if (participant_id != NULL)
          *participant_id = p->id;
        if (video_wanted != NULL)
          *video_wanted = p->video_wanted;
        return TRUE;
      }
  return FALSE;
}

gboolean
confab_call_session_get_send_format (ConfabCallSession *self,
                                     int *width,
                                     int *height,
                                     int *fps,
                                     guint *bitrate_kbps,
                                     ConfabVideoCodec *codec)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), FALSE);
  if (self->sender == NULL)
    return FALSE;
  confab_media_sender_get_video_format (self->sender, width, height, fps, bitrate_kbps);
  *codec = confab_media_sender_get_codec (self->sender);
  return TRUE;
}

gboolean
confab_call_session_get_speaking (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), FALSE);
  return self->speaking;
}

gboolean
confab_call_session_get_participant_speaking (ConfabCallSession *self, guint64 session_id)
{
  Participant *p;

  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), FALSE);
  p = g_hash_table_lookup (self->participants, &session_id);
  return p != NULL && p->speaking;
}

gboolean
confab_call_session_get_participant (ConfabCallSession *self,
                                     guint64 session_id,
                                     gboolean *video_enabled,
                                     gboolean *audio_enabled,
                                     ConfabLinkQuality *quality)
{
  Participant *p;

  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), FALSE);
  p = g_hash_table_lookup (self->participants, &session_id);
  if (p == NULL)
    return FALSE;
  if (video_enabled != NULL)
    *video_enabled = p->video_enabled;
  if (audio_enabled != NULL)
    *audio_enabled = p->audio_enabled;
  if (quality != NULL)
    *quality = p->quality;
  return TRUE;
}

const char *
confab_call_session_get_camera_problem (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), NULL);
  return self->camera_problem;
}

static void
confab_call_session_dispose (GObject *object)
{
  ConfabCallSession *self = CONFAB_CALL_SESSION (object);

  stop_media (self);
  g_cancellable_cancel (self->cancellable);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  if (self->call != NULL)
    g_signal_handlers_disconnect_by_data (self->call, self);
  g_clear_object (&self->call);
  G_OBJECT_CLASS (confab_call_session_parent_class)->dispose (object);
}

static void
confab_call_session_finalize (GObject *object)
{
  ConfabCallSession *self = CONFAB_CALL_SESSION (object);

  g_clear_pointer (&self->invite, confab_invite_free);
  g_clear_pointer (&self->user_id, g_free);
  g_clear_pointer (&self->camera_target, g_free);
  g_clear_pointer (&self->microphone_target, g_free);
  g_clear_pointer (&self->speaker_target, g_free);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->camera_problem, g_free);
  g_clear_pointer (&self->participants, g_hash_table_unref);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (confab_call_session_parent_class)->finalize (object);
}

static void
confab_call_session_class_init (ConfabCallSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_call_session_dispose;
  object_class->finalize = confab_call_session_finalize;

  signals[SIGNAL_JOINED] = g_signal_new ("joined", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_PARTICIPANT_ADDED] =
      g_signal_new ("participant-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_STRING);
  signals[SIGNAL_PARTICIPANT_REMOVED] =
      g_signal_new ("participant-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_BOOLEAN);
  signals[SIGNAL_ENDED] =
      g_signal_new ("ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_PARTICIPANT_CHANGED] =
      g_signal_new ("participant-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
  signals[SIGNAL_CAMERA_FRAME] =
      g_signal_new ("camera-frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, CONFAB_TYPE_VIDEO_FRAME | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_CHAT_MESSAGE] =
      g_signal_new ("chat-message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 3, G_TYPE_UINT64, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_RECONNECTING] =
      g_signal_new ("reconnecting", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_RECONNECTED] =
      g_signal_new ("reconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CAMERA_CHANGED] =
      g_signal_new ("camera-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_MICROPHONE_PROBLEM] =
      g_signal_new ("microphone-problem", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /* Some peer's new picture waits in confab_call_session_take_video_frame():
   * the grid's frame clock runs only while there are pictures to take. */
  signals[SIGNAL_VIDEO_FRAME] =
      g_signal_new ("video-frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 0);
}

static void
confab_call_session_init (ConfabCallSession *self)
{
  self->cancellable = g_cancellable_new ();
  self->codec = CONFAB_VIDEO_CODEC_VP9;
  self->echo_cancellation = TRUE;
  self->participants = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, participant_free);
}
