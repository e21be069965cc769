/* confab-recorder.c: every peer's received video and audio, remuxed into
 * Matroska with libavformat as the packets arrive (no re-encoding).
 *
 * Matroska fixes its tracks in the header, so streams are gathered in a
 * "pending" file first: its header is written once every stream in it is
 * ready (video: a key frame whose size, and for H.264 SPS/PPS, we know;
 * audio: a valid Opus packet) and no new stream has joined for
 * COLLECT_MIN_US, or at the latest COLLECT_MAX_US after its first packet
 * (then only the ready streams go in). Packets of ready streams wait in a
 * buffer meanwhile. A stream that appears after its file's header (a late
 * joiner, a camera turned on later, a codec switch) starts the next pending
 * file, PATH.1.mkv, PATH.2.mkv, ... (docs/cli.md). */
#define G_LOG_DOMAIN "confab-recorder"

#include "confab-recorder.h"

#include <glib/gstdio.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <math.h>
#include <opus.h>
#include <string.h>

/* A new file waits until no new stream has come for this long (the streams
 * that start together: peers' audio and first key frames) ... */
#define COLLECT_MIN_US (1 * G_USEC_PER_SEC)
/* ... and at most this long for a stream's first key frame (a receiver that
 * joined mid-GOP asks for one after a 1 s gap; senders send one every 5 s). */
#define COLLECT_MAX_US (5 * G_USEC_PER_SEC)
/* What a pending file may buffer before it is opened anyway. */
#define PENDING_MAX_BYTES (64 * 1024 * 1024)
/* A sender clock this close to ours is taken as the epoch clock it claims to
 * be, so peers line up by their capture times; one further off (or not a
 * clock at all) is mapped onto ours by its first packet's arrival. */
#define CLOCK_TRUST_US (10 * G_USEC_PER_SEC)
/* Reordering across peers the interleaver absorbs before writing. */
#define INTERLEAVE_US (500 * 1000)

GQuark
confab_recorder_error_quark (void)
{
  return g_quark_from_static_string ("confab-recorder-error-quark");
}

typedef struct _RecFile RecFile;

typedef struct
{
  RecFile *file; /* NULL once retired (not admitted, or replaced) */
  int index;     /* AVStream index once the file is open */
  char *user_id;
  ConfabRecorderKind kind;
  enum AVCodecID codec_id; /* AV_CODEC_ID_NONE until the first key frame */
  gboolean ready;
  int width;
  int height;
  guint8 *extradata; /* av_malloc'ed, padded; H.264 SPS/PPS or OpusHead */
  int extradata_size;

  gboolean clock_known;
  gint64 clock_offset_us; /* added to the sender's timestamps */
  guint64 session_id;
  guint64 last_sequence;
  gboolean have_sequence;
  gboolean wait_key;  /* video after a gap: deltas are useless until a key */
  gint64 last_ts_us;  /* mapped timestamp of the last admitted packet */
  gint64 last_end_us; /* audio: where the last packet's samples end */
} RecStream;

typedef struct
{
  RecStream *stream;
  GBytes *payload;
  gint64 ts_us;
  gint64 duration_us;
  gboolean is_key;
} Pending;

struct _RecFile
{
  char *path;
  AVFormatContext *fmt;
  AVIOContext *pb; /* the first file's, opened early */
  GPtrArray *streams;
  GArray *pending; /* Pending, until the header is written */
  gsize pending_bytes;
  gboolean open;
  gboolean failed;
  gint64 first_packet_mono;
  gint64 last_stream_mono; /* when the newest stream joined */
  gint64 first_ready_mono; /* 0 until a stream is ready */
  gint64 base_us;          /* mapped timestamp of pts 0 */
  gint64 end_us;           /* latest packet end written, file-relative */
};

struct _ConfabRecorder
{
  char *path;
  char *stem; /* path without .mkv, for later files */
  AVIOContext *first_pb;
  GPtrArray *files;         /* RecFile, in creation order */
  RecFile *collecting;      /* the pending file new streams join, or NULL */
  GPtrArray *streams;       /* every RecStream (owned) */
  GHashTable *current;      /* "kind:user" -> RecStream receiving that peer's media */
  GPtrArray *written_paths; /* NULL-terminated */
  AVPacket *packet;         /* reused for every write */
  GMainContext *context;
  GSource *timer;
  gint64 timer_due;
  gint64 collect_min_us;
  gint64 collect_max_us;
  gboolean finished;
  gboolean failed; /* a file could not be written: record nothing more */
  ConfabRecorderStats stats;
};

static void
log_ffmpeg_error (const char *what, const char *path, int ret)
{
  char text[AV_ERROR_MAX_STRING_SIZE] = "";

  av_strerror (ret, text, sizeof text);
  g_warning ("%s %s: %s", what, path, text);
}

/* ---- streams -------------------------------------------------------------------- */

static void
rec_stream_free (RecStream *stream)
{
  g_free (stream->user_id);
  av_free (stream->extradata);
  g_free (stream);
}

static guint
read_bits (const guint8 *data, gsize size, gsize bit, guint n)
{
  guint value = 0;

  for (guint i = 0; i < n; i++, bit++)
    {
      if (bit / 8 >= size)
        return G_MAXUINT;
      value = (value << 1) | ((data[bit / 8] >> (7 - bit % 8)) & 1);
    }
  return value;
}

static gboolean
has_start_code (const guint8 *data, gsize size)
{
  return (size >= 3 && data[0] == 0 && data[1] == 0 && data[2] == 1) ||
         (size >= 4 && data[0] == 0 && data[1] == 0 && data[2] == 0 && data[3] == 1);
}

/* The codec of a key frame, from its first bytes; the wire's
 * VideoMetadata.codec does not reach the "media" signal, and the bitstream
 * is what gets written anyway. */
static enum AVCodecID
sniff_key_frame (const guint8 *data, gsize size)
{
  guint profile;
  gsize bit;

  /* VP8: key frame bit clear, then the start code 9d 01 2a. */
  if (size >= 10 && (data[0] & 1) == 0 && data[3] == 0x9d && data[4] == 0x01 && data[5] == 0x2a)
    return AV_CODEC_ID_VP8;
  if (has_start_code (data, size))
    return AV_CODEC_ID_H264;
  /* VP9: frame marker 2, profile, show_existing_frame 0, frame_type 0
   * (key), show_frame, error_resilient, sync code 49 83 42. */
  if (size >= 8 && read_bits (data, size, 0, 2) == 2)
    {
      profile = read_bits (data, size, 2, 1) | (read_bits (data, size, 3, 1) << 1);
      bit = profile == 3 ? 5 : 4;
      if (read_bits (data, size, bit, 1) == 0 && read_bits (data, size, bit + 1, 1) == 0 &&
          read_bits (data, size, bit + 4, 24) == 0x498342)
        return AV_CODEC_ID_VP9;
    }
  return AV_CODEC_ID_NONE;
}

/* Where the next Annex B start code begins at or after @from, or @size. */
static gsize
find_start_code (const guint8 *data, gsize size, gsize from)
{
  for (gsize i = from; i + 3 <= size; i++)
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1)
      return i > from && data[i - 1] == 0 ? i - 1 : i;
  return size;
}

/* SPS and PPS NAL units of an H.264 key frame, as Annex B extradata (the
 * Matroska muxer turns it into avcC). FALSE without both. */
static gboolean
extract_h264_parameter_sets (RecStream *stream, const guint8 *data, gsize size)
{
  g_autoptr (GByteArray) sets = g_byte_array_new ();
  static const guint8 start_code[] = { 0, 0, 0, 1 };
  gboolean sps = FALSE, pps = FALSE;
  gsize pos = find_start_code (data, size, 0);

  while (pos < size)
    {
      gsize nal = pos + (data[pos + 2] == 1 ? 3 : 4);
      gsize end = find_start_code (data, size, nal);
      guint type;

      if (nal >= end)
        {
          pos = end;
          continue;
        }
      type = data[nal] & 0x1f;
      if (type == 7 || type == 8)
        {
          g_byte_array_append (sets, start_code, sizeof start_code);
          g_byte_array_append (sets, data + nal, end - nal);
          sps |= type == 7;
          pps |= type == 8;
        }
      pos = end;
    }
  if (!sps || !pps)
    return FALSE;
  stream->extradata = av_mallocz (sets->len + AV_INPUT_BUFFER_PADDING_SIZE);
  memcpy (stream->extradata, sets->data, sets->len);
  stream->extradata_size = (int) sets->len;
  return TRUE;
}

/* The picture size of a key frame: decoded once with libavcodec (one frame
 * per stream, never again), which also proves the frame is sound. */
static gboolean
probe_key_frame (RecStream *stream, enum AVCodecID codec_id, const guint8 *data, gsize size)
{
  const AVCodec *codec = avcodec_find_decoder (codec_id);
  AVCodecContext *context = NULL;
  AVPacket *packet = NULL;
  AVFrame *frame = NULL;
  gboolean ok = FALSE;

  if (codec == NULL || size > G_MAXINT / 2)
    return FALSE;
  context = avcodec_alloc_context3 (codec);
  packet = av_packet_alloc ();
  frame = av_frame_alloc ();
  if (context == NULL || packet == NULL || frame == NULL)
    goto out;
  context->thread_count = 1;
  if (avcodec_open2 (context, codec, NULL) < 0 || av_new_packet (packet, (int) size) < 0)
    goto out;
  /* Decoders read past the end: av_new_packet pads the copy. */
  memcpy (packet->data, data, size);
  packet->flags = AV_PKT_FLAG_KEY;
  if (avcodec_send_packet (context, packet) < 0)
    goto out;
  avcodec_send_packet (context, NULL);
  if (avcodec_receive_frame (context, frame) < 0 || frame->width <= 0 || frame->height <= 0)
    goto out;
  if (codec_id == AV_CODEC_ID_H264 && !extract_h264_parameter_sets (stream, data, size))
    goto out;
  stream->width = frame->width;
  stream->height = frame->height;
  stream->codec_id = codec_id;
  ok = TRUE;

out:
  av_frame_free (&frame);
  av_packet_free (&packet);
  avcodec_free_context (&context);
  return ok;
}

/* RFC 7845 §5.1: version 1, one channel, no pre-skip (the sender's encoder
 * delay is unknown; its few ms stay in), 48 kHz, gain 0, mapping family 0. */
static void
make_opus_head (RecStream *stream)
{
  static const guint8 head[19] = { 'O', 'p', 'u',  's',  'H', 'e', 'a', 'd', 1, 1,
                                   0,   0,   0x80, 0xbb, 0,   0,   0,   0,   0 };

  stream->extradata = av_mallocz (sizeof head + AV_INPUT_BUFFER_PADDING_SIZE);
  memcpy (stream->extradata, head, sizeof head);
  stream->extradata_size = sizeof head;
  stream->codec_id = AV_CODEC_ID_OPUS;
  stream->ready = TRUE;
}

/* ---- files ---------------------------------------------------------------------- */

static void
rec_file_free (RecFile *file)
{
  for (guint i = 0; file->pending != NULL && i < file->pending->len; i++)
    g_bytes_unref (g_array_index (file->pending, Pending, i).payload);
  g_clear_pointer (&file->pending, g_array_unref);
  if (file->fmt != NULL)
    {
      avio_closep (&file->fmt->pb);
      avformat_free_context (file->fmt);
    }
  avio_closep (&file->pb);
  g_ptr_array_unref (file->streams);
  g_free (file->path);
  g_free (file);
}

static RecFile *
start_file (ConfabRecorder *self, gint64 now)
{
  RecFile *file = g_new0 (RecFile, 1);

  if (self->files->len == 0)
    {
      file->path = g_strdup (self->path);
      file->pb = g_steal_pointer (&self->first_pb);
    }
  else
    file->path = g_strdup_printf ("%s.%u.mkv", self->stem, self->files->len);
  file->streams = g_ptr_array_new ();
  file->pending = g_array_new (FALSE, FALSE, sizeof (Pending));
  file->first_packet_mono = now;
  g_ptr_array_add (self->files, file);
  return file;
}

static void
release_payload (void *opaque, uint8_t *data)
{
  g_bytes_unref (opaque);
}

static void
write_packet (ConfabRecorder *self,
              RecFile *file,
              RecStream *stream,
              GBytes *payload,
              gint64 ts_us,
              gint64 duration_us,
              gboolean is_key)
{
  AVStream *st = file->fmt->streams[stream->index];
  AVPacket *packet = self->packet;
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (payload, &size);
  gint64 pts_us = ts_us - file->base_us;
  int ret;

  /* The payload is referenced, not copied: the muxer holds it while it
   * interleaves and lets it go through release_payload(). */
  packet->buf = av_buffer_create ((uint8_t *) data, (int) size, release_payload,
                                  g_bytes_ref (payload), AV_BUFFER_FLAG_READONLY);
  if (packet->buf == NULL)
    {
      g_bytes_unref (payload);
      self->stats.dropped++;
      return;
    }
  packet->data = (uint8_t *) data;
  packet->size = (int) size;
  packet->stream_index = stream->index;
  packet->pts = packet->dts = av_rescale_q (pts_us, AV_TIME_BASE_Q, st->time_base);
  packet->duration = av_rescale_q (duration_us, AV_TIME_BASE_Q, st->time_base);
  packet->flags = is_key ? AV_PKT_FLAG_KEY : 0;
  ret = av_interleaved_write_frame (file->fmt, packet);
  av_packet_unref (packet);
  if (ret < 0)
    {
      log_ffmpeg_error ("Cannot write to", file->path, ret);
      file->failed = TRUE;
      self->failed = TRUE;
      return;
    }
  file->end_us = MAX (file->end_us, pts_us + duration_us);
  if (stream->kind == CONFAB_RECORDER_AUDIO)
    self->stats.audio_packets++;
  else
    self->stats.video_frames++;
  self->stats.bytes += size;
}

static gboolean
add_av_stream (RecFile *file, RecStream *stream)
{
  AVStream *st = avformat_new_stream (file->fmt, NULL);
  AVCodecParameters *par;
  g_autofree char *title = NULL;

  if (st == NULL)
    return FALSE;
  par = st->codecpar;
  par->codec_id = stream->codec_id;
  if (stream->kind == CONFAB_RECORDER_AUDIO)
    {
      AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;

      par->codec_type = AVMEDIA_TYPE_AUDIO;
      par->sample_rate = 48000;
      par->frame_size = 960;
      av_channel_layout_copy (&par->ch_layout, &mono);
    }
  else
    {
      par->codec_type = AVMEDIA_TYPE_VIDEO;
      par->width = stream->width;
      par->height = stream->height;
      par->format = AV_PIX_FMT_YUV420P;
    }
  if (stream->extradata != NULL)
    {
      par->extradata = av_mallocz (stream->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
      if (par->extradata == NULL)
        return FALSE;
      memcpy (par->extradata, stream->extradata, stream->extradata_size);
      par->extradata_size = stream->extradata_size;
    }
  st->time_base = (AVRational){ 1, 1000 };
  title = g_strdup_printf ("%s %s", stream->user_id,
                           stream->kind == CONFAB_RECORDER_AUDIO    ? "audio"
                           : stream->kind == CONFAB_RECORDER_SCREEN ? "screen"
                                                                    : "video");
  av_dict_set (&st->metadata, "title", title, 0);
  stream->index = st->index;
  return TRUE;
}

static void
fail_file (ConfabRecorder *self, RecFile *file, const char *what, int ret)
{
  log_ffmpeg_error (what, file->path, ret);
  file->failed = TRUE;
  self->failed = TRUE;
  for (guint i = 0; i < file->streams->len; i++)
    ((RecStream *) g_ptr_array_index (file->streams, i))->file = NULL;
}

/* Writes the header with the ready streams (the others are retired: their
 * next packet starts a later file), then everything buffered. */
static void
open_file (ConfabRecorder *self, RecFile *file)
{
  g_autoptr (GPtrArray) admitted = g_ptr_array_new ();
  g_autoptr (GDateTime) start = NULL;
  g_autofree char *creation = NULL;
  GArray *pending = g_steal_pointer (&file->pending);
  int ret;

  if (self->collecting == file)
    self->collecting = NULL;
  file->open = TRUE;
  for (guint i = 0; i < file->streams->len; i++)
    {
      RecStream *stream = g_ptr_array_index (file->streams, i);

      if (stream->ready)
        g_ptr_array_add (admitted, stream);
      else
        stream->file = NULL;
    }
  g_ptr_array_set_size (file->streams, 0);
  g_ptr_array_extend (file->streams, admitted, NULL, NULL);

  file->base_us = G_MAXINT64;
  for (guint i = 0; i < pending->len; i++)
    file->base_us = MIN (file->base_us, g_array_index (pending, Pending, i).ts_us);

  if (admitted->len > 0)
    {
      ret = avformat_alloc_output_context2 (&file->fmt, NULL, "matroska", file->path);
      if (ret < 0)
        fail_file (self, file, "Cannot set up", ret);
    }
  if (admitted->len > 0 && !file->failed)
    {
      if (file->pb != NULL)
        file->fmt->pb = g_steal_pointer (&file->pb);
      else if ((ret = avio_open (&file->fmt->pb, file->path, AVIO_FLAG_WRITE)) < 0)
        fail_file (self, file, "Cannot create", ret);
    }
  for (guint i = 0; admitted->len > 0 && !file->failed && i < admitted->len; i++)
    if (!add_av_stream (file, g_ptr_array_index (admitted, i)))
      fail_file (self, file, "Cannot add a track to", AVERROR (ENOMEM));
  if (admitted->len > 0 && !file->failed)
    {
      /* pts 0 is this wall-clock time: later files line up with the first. */
      g_autoptr (GDateTime) second = g_date_time_new_from_unix_utc (file->base_us / G_USEC_PER_SEC);

      start = second != NULL ? g_date_time_add (second, file->base_us % G_USEC_PER_SEC) : NULL;
      creation = start != NULL ? g_date_time_format_iso8601 (start) : NULL;
      if (creation != NULL)
        av_dict_set (&file->fmt->metadata, "creation_time", creation, 0);
      av_dict_set (&file->fmt->metadata, "encoder", "confab-cli", 0);
      file->fmt->max_interleave_delta = INTERLEAVE_US;
      ret = avformat_write_header (file->fmt, NULL);
      if (ret < 0)
        fail_file (self, file, "Cannot write the header of", ret);
    }
  if (admitted->len > 0 && !file->failed)
    {
      self->stats.files++;
      for (guint i = 0; i < admitted->len; i++)
        {
          if (((RecStream *) g_ptr_array_index (admitted, i))->kind == CONFAB_RECORDER_AUDIO)
            self->stats.audio_streams++;
          else
            self->stats.video_streams++;
        }
      g_ptr_array_insert (self->written_paths, (int) self->written_paths->len - 1,
                          g_strdup (file->path));
      g_debug ("%s: %u tracks", file->path, admitted->len);
    }

  for (guint i = 0; i < pending->len; i++)
    {
      Pending *p = &g_array_index (pending, Pending, i);

      if (p->stream->file == file && !file->failed)
        write_packet (self, file, p->stream, p->payload, p->ts_us, p->duration_us, p->is_key);
      else
        self->stats.dropped++;
      g_bytes_unref (p->payload);
    }
  g_array_unref (pending);
  file->pending_bytes = 0;
}

static gboolean
file_should_open (ConfabRecorder *self, RecFile *file, gint64 now, gboolean finishing)
{
  gboolean all_ready = file->streams->len > 0;
  gboolean any_ready = FALSE;

  for (guint i = 0; i < file->streams->len; i++)
    {
      RecStream *stream = g_ptr_array_index (file->streams, i);

      all_ready &= stream->ready;
      any_ready |= stream->ready;
    }
  if (!any_ready)
    return FALSE;
  if (finishing || file->pending_bytes > PENDING_MAX_BYTES)
    return TRUE;
  if (all_ready && now >= file->last_stream_mono + self->collect_min_us)
    return TRUE;
  /* Past the bound, but whatever became ready last still gets its moment. */
  return now >= MAX (file->first_packet_mono + self->collect_max_us,
                     file->first_ready_mono + self->collect_min_us);
}

static gboolean on_timer (gpointer data);

/* When file_should_open() can next say yes without a packet arriving; -1
 * while nothing is ready (a packet must change that first). */
static gint64
next_check (ConfabRecorder *self, RecFile *file)
{
  gboolean all_ready = TRUE;

  if (file->first_ready_mono == 0)
    return -1;
  for (guint i = 0; i < file->streams->len; i++)
    all_ready &= ((RecStream *) g_ptr_array_index (file->streams, i))->ready;
  if (all_ready)
    return file->last_stream_mono + self->collect_min_us;
  return MAX (file->first_packet_mono + self->collect_max_us,
              file->first_ready_mono + self->collect_min_us);
}

static void
schedule_timer (ConfabRecorder *self, gint64 now)
{
  gint64 due = self->collecting != NULL ? next_check (self, self->collecting) : -1;

  if (self->timer != NULL && due == self->timer_due)
    return;
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  if (due < 0)
    return;
  self->timer_due = due;
  self->timer = g_timeout_source_new ((guint) MAX (0, (due - now + 999) / 1000));
  g_source_set_callback (self->timer, on_timer, self, NULL);
  g_source_attach (self->timer, self->context);
}

static void
check_collecting (ConfabRecorder *self, gint64 now)
{
  if (self->collecting != NULL && file_should_open (self, self->collecting, now, FALSE))
    open_file (self, self->collecting);
  schedule_timer (self, now);
}

static gboolean
on_timer (gpointer data)
{
  ConfabRecorder *self = data;

  g_clear_pointer (&self->timer, g_source_unref);
  check_collecting (self, g_get_monotonic_time ());
  return G_SOURCE_REMOVE;
}

/* ---- packets -------------------------------------------------------------------- */

static const char *
kind_prefix (ConfabRecorderKind kind)
{
  return kind == CONFAB_RECORDER_AUDIO ? "a:" : kind == CONFAB_RECORDER_SCREEN ? "s:" : "v:";
}

static RecStream *
new_stream (ConfabRecorder *self,
            const char *key,
            const char *user_id,
            ConfabRecorderKind kind,
            gint64 sender_us,
            gint64 now_real,
            gint64 now)
{
  RecStream *stream = g_new0 (RecStream, 1);

  stream->user_id = g_strdup (user_id);
  stream->kind = kind;
  stream->codec_id = AV_CODEC_ID_NONE;
  stream->index = -1;
  stream->last_ts_us = G_MININT64;
  stream->last_end_us = G_MININT64;
  if (kind == CONFAB_RECORDER_AUDIO)
    make_opus_head (stream);
  if (self->collecting == NULL)
    self->collecting = start_file (self, now);
  stream->file = self->collecting;
  stream->file->last_stream_mono = now;
  g_ptr_array_add (stream->file->streams, stream);
  g_ptr_array_add (self->streams, stream);
  g_hash_table_replace (self->current, g_strdup (key), stream);
  return stream;
}

void
confab_recorder_add_packet (ConfabRecorder *self,
                            const char *user_id,
                            guint64 session_id,
                            ConfabRecorderKind kind,
                            GBytes *payload,
                            gboolean is_key,
                            guint64 sequence,
                            double timestamp)
{
  gint64 now = g_get_monotonic_time ();
  gint64 now_real = g_get_real_time ();
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (payload, &size);
  gboolean video = kind != CONFAB_RECORDER_AUDIO;
  gint64 sender_us = -1, ts_us, duration_us = 0;
  enum AVCodecID key_codec = AV_CODEC_ID_NONE;
  char key[300];
  RecStream *stream;
  RecFile *file;

  if (self->finished || self->failed || size == 0 || size > G_MAXINT / 2 || user_id == NULL)
    return;
  /* Video: epoch µs; audio: epoch ms (PROTOCOL.md §5). */
  if (isfinite (timestamp) && timestamp > 0 && timestamp < (video ? 9.0e18 : 9.0e15))
    sender_us = video ? (gint64) timestamp : (gint64) (timestamp * 1000);
  g_snprintf (key, sizeof key, "%s%s", kind_prefix (kind), user_id);

  if (video && is_key)
    key_codec = sniff_key_frame (data, size);
  else if (!video)
    {
      int samples = opus_packet_get_nb_samples (data, (opus_int32) size, 48000);

      if (samples <= 0)
        {
          self->stats.dropped++;
          return;
        }
      duration_us = (gint64) samples * G_USEC_PER_SEC / 48000;
    }

  stream = g_hash_table_lookup (self->current, key);
  /* A codec switch needs a new track, so a new file. */
  if (stream != NULL && stream->ready && key_codec != AV_CODEC_ID_NONE &&
      key_codec != stream->codec_id)
    {
      if (stream->file != NULL && !stream->file->open)
        g_ptr_array_remove (stream->file->streams, stream);
      stream->file = NULL;
    }
  if (stream == NULL || stream->file == NULL)
    stream = new_stream (self, key, user_id, kind, sender_us, now_real, now);
  file = stream->file;

  if (video && !stream->ready)
    {
      if (key_codec == AV_CODEC_ID_NONE || !probe_key_frame (stream, key_codec, data, size))
        {
          self->stats.dropped++;
          return;
        }
      stream->ready = TRUE;
    }
  if (file->first_ready_mono == 0 && stream->ready)
    file->first_ready_mono = now;

  /* Sequence: late and duplicate packets are dropped; a session's first
   * packet or a hole makes video wait for its next key frame. */
  if (stream->have_sequence && session_id == stream->session_id &&
      sequence <= stream->last_sequence)
    {
      self->stats.dropped++;
      return;
    }
  if (video && (!stream->have_sequence || session_id != stream->session_id ||
                sequence != stream->last_sequence + 1))
    stream->wait_key = stream->have_sequence;
  stream->have_sequence = TRUE;
  stream->session_id = session_id;
  stream->last_sequence = sequence;
  if (video && stream->wait_key && !is_key)
    {
      self->stats.dropped++;
      return;
    }
  if (is_key)
    stream->wait_key = FALSE;

  /* The sender's clock on ours; each track strictly forward (Matroska's
   * millisecond ticks), audio never overlapping its previous packet. */
  if (sender_us >= 0 && !stream->clock_known)
    {
      stream->clock_known = TRUE;
      if (ABS (now_real - sender_us) > CLOCK_TRUST_US)
        stream->clock_offset_us = now_real - sender_us;
    }
  /* No usable timestamp: its arrival time. */
  ts_us = sender_us >= 0 ? sender_us + stream->clock_offset_us : now_real;
  if (video && stream->last_ts_us != G_MININT64 && ts_us < stream->last_ts_us + 1000)
    ts_us = stream->last_ts_us + 1000;
  if (!video && stream->last_end_us != G_MININT64 && ts_us < stream->last_end_us)
    ts_us = stream->last_end_us;
  if (file->open && ts_us < file->base_us)
    {
      /* Before the file's start: it cannot be written. */
      stream->wait_key = video;
      self->stats.dropped++;
      return;
    }
  stream->last_ts_us = ts_us;
  stream->last_end_us = ts_us + duration_us;

  if (file->open)
    write_packet (self, file, stream, payload, ts_us, duration_us, is_key);
  else
    {
      Pending p = { stream, g_bytes_ref (payload), ts_us, duration_us, is_key };

      g_array_append_val (file->pending, p);
      file->pending_bytes += size;
    }
  check_collecting (self, now);
}

/* ---- lifecycle ------------------------------------------------------------------ */

ConfabRecorder *
confab_recorder_new (const char *path, GError **error)
{
  g_autoptr (ConfabRecorder) self = g_new0 (ConfabRecorder, 1);
  int ret;

  g_return_val_if_fail (path != NULL, NULL);
  self->path = g_strdup (path);
  self->stem =
      g_str_has_suffix (path, ".mkv") ? g_strndup (path, strlen (path) - 4) : g_strdup (path);
  self->files = g_ptr_array_new_with_free_func ((GDestroyNotify) rec_file_free);
  self->streams = g_ptr_array_new_with_free_func ((GDestroyNotify) rec_stream_free);
  self->current = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->written_paths = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->written_paths, NULL);
  self->context = g_main_context_ref_thread_default ();
  self->collect_min_us = COLLECT_MIN_US;
  self->collect_max_us = COLLECT_MAX_US;
  self->packet = av_packet_alloc ();
  if (self->packet == NULL)
    g_error ("out of memory");
  ret = avio_open (&self->first_pb, path, AVIO_FLAG_WRITE);
  if (ret < 0)
    {
      char text[AV_ERROR_MAX_STRING_SIZE] = "";

      self->finished = TRUE; /* nothing of ours to finish or remove */
      av_strerror (ret, text, sizeof text);
      g_set_error (error, CONFAB_RECORDER_ERROR, CONFAB_RECORDER_ERROR_OPEN,
                   "Cannot create the recording %s: %s", path, text);
      return NULL;
    }
  return g_steal_pointer (&self);
}

gboolean
confab_recorder_finish (ConfabRecorder *self, GError **error)
{
  g_autoptr (GString) failed = g_string_new (NULL);
  int ret;

  if (self->finished)
    return TRUE;
  self->finished = TRUE;
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  if (self->collecting != NULL && file_should_open (self, self->collecting, 0, TRUE))
    open_file (self, self->collecting);
  self->collecting = NULL;

  for (guint i = 0; i < self->files->len; i++)
    {
      RecFile *file = g_ptr_array_index (self->files, i);

      if (file->fmt == NULL || !file->open)
        continue;
      if (!file->failed && file->fmt->pb != NULL)
        {
          ret = av_write_trailer (file->fmt);
          if (ret < 0)
            {
              log_ffmpeg_error ("Cannot finish", file->path, ret);
              file->failed = TRUE;
            }
        }
      if (file->failed)
        g_string_append_printf (failed, "%s%s", failed->len > 0 ? ", " : "", file->path);
      if (i == 0)
        self->stats.duration_s = file->end_us / 1e6;
      avio_closep (&file->fmt->pb);
    }
  /* Nothing ever arrived (or nothing became ready): no empty file is left. */
  if (self->files->len == 0 || ((RecFile *) g_ptr_array_index (self->files, 0))->fmt == NULL)
    {
      avio_closep (&self->first_pb);
      if (self->files->len > 0)
        avio_closep (&((RecFile *) g_ptr_array_index (self->files, 0))->pb);
      g_unlink (self->path);
    }
  if (failed->len > 0)
    {
      g_set_error (error, CONFAB_RECORDER_ERROR, CONFAB_RECORDER_ERROR_WRITE,
                   "Recording incomplete: %s", failed->str);
      return FALSE;
    }
  return TRUE;
}

void
confab_recorder_set_wait (ConfabRecorder *self, guint quiet_ms, guint max_ms)
{
  self->collect_min_us = (gint64) quiet_ms * 1000;
  self->collect_max_us = MAX ((gint64) max_ms * 1000, self->collect_min_us);
}

void
confab_recorder_get_stats (ConfabRecorder *self, ConfabRecorderStats *stats)
{
  *stats = self->stats;
}

const char *const *
confab_recorder_get_files (ConfabRecorder *self)
{
  return (const char *const *) self->written_paths->pdata;
}

void
confab_recorder_free (ConfabRecorder *self)
{
  g_autoptr (GError) error = NULL;

  if (self == NULL)
    return;
  if (self->packet != NULL && !confab_recorder_finish (self, &error))
    g_warning ("%s", error->message);
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_source_unref (self->timer);
    }
  avio_closep (&self->first_pb);
  g_main_context_unref (self->context);
  g_clear_pointer (&self->files, g_ptr_array_unref);
  g_clear_pointer (&self->streams, g_ptr_array_unref);
  g_clear_pointer (&self->current, g_hash_table_unref);
  g_clear_pointer (&self->written_paths, g_ptr_array_unref);
  av_packet_free (&self->packet);
  g_free (self->path);
  g_free (self->stem);
  g_free (self);
}
