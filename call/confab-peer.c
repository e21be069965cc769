/* confab-peer.c: per-peer receive state and statistics. */
#define G_LOG_DOMAIN "confab-peer"

#include "confab-peer-private.h"

#include <string.h>

struct _ConfabPeer
{
  GObject parent_instance;

  guint64 session_id;
  char *user_id;
  char *display_name;
  gboolean present;
  gint64 last_packet_us;

  guint64 video_frames;
  guint64 video_keyframes;
  guint64 video_gaps;
  guint64 audio_packets;
  guint64 heartbeats;
  guint64 keyframe_requests;

  gboolean have_video_sequence;
  guint64 last_video_sequence;
  gboolean waiting_for_keyframe;
  gint64 gap_since_us;
  gint64 last_request_us;
  gboolean requested_once;

  gboolean video_enabled;
  gboolean audio_enabled;
  gboolean ever_video_enabled;
  gboolean ever_audio_enabled;
};

G_DEFINE_FINAL_TYPE (ConfabPeer, confab_peer, G_TYPE_OBJECT)

static void
confab_peer_finalize (GObject *object)
{
  ConfabPeer *self = CONFAB_PEER (object);

  g_free (self->user_id);
  g_free (self->display_name);
  G_OBJECT_CLASS (confab_peer_parent_class)->finalize (object);
}

static void
confab_peer_class_init (ConfabPeerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = confab_peer_finalize;
}

static void
confab_peer_init (ConfabPeer *self)
{
  self->user_id = g_strdup ("");
}

ConfabPeer *
confab_peer_new (guint64 session_id, gint64 now_us)
{
  ConfabPeer *self = g_object_new (CONFAB_TYPE_PEER, NULL);

  self->session_id = session_id;
  self->present = TRUE;
  self->last_packet_us = now_us;
  return self;
}

/* Ids are bytes on the wire; show them as text, replacing what is not UTF-8. */
static char *
bytes_to_text (const guint8 *data, gsize len)
{
  return g_utf8_make_valid ((const char *) data, (gssize) len);
}

gboolean
confab_peer_set_user_id (ConfabPeer *self, const guint8 *user_id, gsize len)
{
  if (len == strlen (self->user_id) && memcmp (self->user_id, user_id, len) == 0)
    return FALSE;
  g_free (self->user_id);
  self->user_id = bytes_to_text (user_id, len);
  return TRUE;
}

void
confab_peer_set_display_name (ConfabPeer *self, const guint8 *name, gsize len)
{
  g_free (self->display_name);
  self->display_name = len > 0 ? bytes_to_text (name, len) : NULL;
}

void
confab_peer_set_present (ConfabPeer *self, gboolean present)
{
  self->present = present;
}

void
confab_peer_touch (ConfabPeer *self, gint64 now_us)
{
  self->last_packet_us = now_us;
}

gboolean
confab_peer_is_silent (ConfabPeer *self, gint64 now_us)
{
  return now_us - self->last_packet_us > CONFAB_PEER_SILENCE_TIMEOUT_US;
}

void
confab_peer_on_video (
    ConfabPeer *self, gboolean has_sequence, guint64 sequence, gboolean is_key, gint64 now_us)
{
  self->video_frames++;
  if (is_key)
    {
      self->video_keyframes++;
      /* A key frame repairs everything and restarts the sequence baseline
       * (a sender that restarted its encoder restarts its numbering too). */
      self->waiting_for_keyframe = FALSE;
      self->have_video_sequence = has_sequence;
      self->last_video_sequence = sequence;
      return;
    }
  if (!has_sequence)
    return;
  if (self->have_video_sequence && sequence > self->last_video_sequence + 1)
    {
      self->video_gaps++;
      if (!self->waiting_for_keyframe)
        {
          self->waiting_for_keyframe = TRUE;
          self->gap_since_us = now_us;
        }
    }
  else if (!self->have_video_sequence)
    {
      /* Joined mid-stream: deltas without their key frame cannot be decoded. */
      self->waiting_for_keyframe = TRUE;
      self->gap_since_us = now_us;
    }
  else if (sequence <= self->last_video_sequence)
    return; /* late or duplicate: keep the newest as baseline */
  self->have_video_sequence = TRUE;
  self->last_video_sequence = sequence;
}

void
confab_peer_on_audio (ConfabPeer *self)
{
  self->audio_packets++;
}

void
confab_peer_on_heartbeat (ConfabPeer *self, gboolean video_enabled, gboolean audio_enabled)
{
  self->heartbeats++;
  self->video_enabled = video_enabled;
  self->audio_enabled = audio_enabled;
  self->ever_video_enabled |= video_enabled;
  self->ever_audio_enabled |= audio_enabled;
}

gboolean
confab_peer_take_keyframe_request (ConfabPeer *self, gint64 now_us)
{
  if (!self->waiting_for_keyframe || !self->present)
    return FALSE;
  if (now_us - self->gap_since_us < CONFAB_KEYFRAME_REQUEST_AFTER_US)
    return FALSE;
  if (self->requested_once && now_us - self->last_request_us < CONFAB_KEYFRAME_REQUEST_INTERVAL_US)
    return FALSE;
  self->requested_once = TRUE;
  self->last_request_us = now_us;
  self->keyframe_requests++;
  return TRUE;
}

gboolean
confab_peer_is_waiting_for_keyframe (ConfabPeer *self)
{
  return self->waiting_for_keyframe;
}

guint64
confab_peer_get_session_id (ConfabPeer *self)
{
  return self->session_id;
}

const char *
confab_peer_get_user_id (ConfabPeer *self)
{
  return self->user_id;
}

const char *
confab_peer_get_display_name (ConfabPeer *self)
{
  return self->display_name != NULL ? self->display_name : self->user_id;
}

gboolean
confab_peer_is_present (ConfabPeer *self)
{
  return self->present;
}

guint64
confab_peer_get_video_frames (ConfabPeer *self)
{
  return self->video_frames;
}

guint64
confab_peer_get_video_keyframes (ConfabPeer *self)
{
  return self->video_keyframes;
}

guint64
confab_peer_get_video_gaps (ConfabPeer *self)
{
  return self->video_gaps;
}

guint64
confab_peer_get_audio_packets (ConfabPeer *self)
{
  return self->audio_packets;
}

guint64
confab_peer_get_heartbeats (ConfabPeer *self)
{
  return self->heartbeats;
}

guint64
confab_peer_get_keyframe_requests_sent (ConfabPeer *self)
{
  return self->keyframe_requests;
}

gboolean
confab_peer_get_video_enabled (ConfabPeer *self)
{
  return self->video_enabled;
}

gboolean
confab_peer_get_audio_enabled (ConfabPeer *self)
{
  return self->audio_enabled;
}

gboolean
confab_peer_ever_video_enabled (ConfabPeer *self)
{
  return self->ever_video_enabled;
}

gboolean
confab_peer_ever_audio_enabled (ConfabPeer *self)
{
  return self->ever_audio_enabled;
}
