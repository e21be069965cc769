/* confab-recorder.h: records every peer's received video and audio into
 * Matroska files as they arrive, without re-encoding (VP8/VP9/H.264 frames and
 * raw Opus packets are remuxed), on the senders' capture timestamps. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CONFAB_RECORDER_ERROR (confab_recorder_error_quark ())

typedef enum
{
  CONFAB_RECORDER_ERROR_OPEN,  /* the file cannot be created */
  CONFAB_RECORDER_ERROR_WRITE, /* writing a header, packet or trailer failed */
} ConfabRecorderError;

GQuark confab_recorder_error_quark (void);

typedef enum
{
  CONFAB_RECORDER_VIDEO,  /* camera: VP8, VP9 or Annex B H.264 frames */
  CONFAB_RECORDER_AUDIO,  /* Opus packets, 48 kHz mono */
  CONFAB_RECORDER_SCREEN, /* screen share: like VIDEO, its own track */
} ConfabRecorderKind;

typedef struct
{
  guint files;         /* Matroska files with a header written */
  guint video_streams; /* tracks written, over all files */
  guint audio_streams;
  guint64 video_frames;  /* frames written */
  guint64 audio_packets; /* packets written */
  guint64 dropped;       /* before a key frame, after a gap, late, or not admitted */
  guint64 bytes;         /* payload bytes written */
  double duration_s;     /* the first file's duration */
} ConfabRecorderStats;

typedef struct _ConfabRecorder ConfabRecorder;

/* Creates @path now (so a bad path fails at once, with
 * CONFAB_RECORDER_ERROR_OPEN); its header is written once the streams that
 * arrive first are ready (docs/cli.md: "Recording"). Streams that come later
 * go to PATH-without-.mkv.1.mkv, .2.mkv, ... Timers run on the thread-default
 * main context. */
ConfabRecorder *confab_recorder_new (const char *path, GError **error);

/* How long a new file waits for streams before its header is written: until
 * every stream in it is ready and none has joined for @quiet_ms (default
 * 1000), or at most @max_ms (default 5000) after its first packet. */
void confab_recorder_set_wait (ConfabRecorder *self, guint quiet_ms, guint max_ms);

/* One received packet: @user_id names the sender (a peer that reconnects
 * with a new session continues its tracks), @session_id tells sessions apart
 * (a new one restarts its sequence numbers), @timestamp is
 * MediaPacket.timestamp as sent (video: epoch microseconds, audio: epoch
 * milliseconds). @payload is referenced, not copied. */
void confab_recorder_add_packet (ConfabRecorder *self,
                                 const char *user_id,
                                 guint64 session_id,
                                 ConfabRecorderKind kind,
                                 GBytes *payload,
                                 gboolean is_key,
                                 guint64 sequence,
                                 double timestamp);

/* Writes what is still buffered, then every file's trailer, and closes them.
 * Later packets are ignored. A first file that never got a stream is removed.
 * FALSE when a file could not be completed. */
gboolean confab_recorder_finish (ConfabRecorder *self, GError **error);

void confab_recorder_get_stats (ConfabRecorder *self, ConfabRecorderStats *stats);
/* The files written so far (header done), first one first. (transfer none) */
const char *const *confab_recorder_get_files (ConfabRecorder *self);

/* Finishes (errors logged) if not done yet, then frees. */
void confab_recorder_free (ConfabRecorder *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabRecorder, confab_recorder_free)

G_END_DECLS
