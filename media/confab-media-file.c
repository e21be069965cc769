/* confab-media-file.c: a media file as a live video or audio source, read
 * with libavformat, decoded with libavcodec, scaled with libswscale (only
 * when the file's pictures are not already I420 at the asked size) and
 * resampled with libswresample. The caller's clock paces it: pictures follow
 * the file's timestamps, audio comes out 20 ms at a time; at the end of the
 * file it seeks back to the start and goes on. */
#define G_LOG_DOMAIN "confab-media-file"

#include "confab-media-file.h"

#include "confab-ffmpeg-private.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
#include <string.h>

/* Packets read in one go without a single decoded frame before the file
 * counts as not decoding (a damaged stretch is skipped, a dead file is not
 * read forever). */
#define MAX_PACKETS_WITHOUT_FRAME 2000
#define OUTPUT_RATE               48000

GQuark
confab_media_file_error_quark (void)
{
  return g_quark_from_static_string ("confab-media-file-error-quark");
}

struct _ConfabMediaFile
{
  char *path;
  enum AVMediaType type;
  AVFormatContext *fmt;
  AVCodecContext *codec;
  int stream_index;
  AVRational time_base;
  gint64 start_us; /* the stream's first timestamp */
  AVPacket *packet;
  AVFrame *frame;    /* decode target */
  gboolean draining; /* end of file reached, decoder being emptied */
  gboolean decoded_this_pass;
  guint loops;

  /* Video */
  int width;
  int height;
  double fps;
  gint64 frame_duration_us;
  gint64 loop_offset_us; /* added to file timestamps after each loop */
  gint64 last_pts_us;    /* of the last decoded picture, loop offset included */
  AVFrame *showing;      /* the picture for the current time, not yet converted */
  gboolean showing_new;
  AVFrame *next; /* decoded, not due yet */
  gint64 next_pts_us;
  gboolean have_next;
  struct SwsContext *sws;
  ConfabVideoFrame *current; /* `showing` as the caller gets it */
  gboolean current_handed_out;

  /* Audio */
  SwrContext *swr;
  int swr_format;
  int swr_rate;
  AVChannelLayout swr_layout;
  gint16 *fifo;
  gsize fifo_len;
  gsize fifo_size;
};

static void
set_ffmpeg_error (GError **error, int code, const char *path, const char *what, int ret)
{
  char text[AV_ERROR_MAX_STRING_SIZE] = "";

  av_strerror (ret, text, sizeof text);
  g_set_error (error, CONFAB_MEDIA_FILE_ERROR, code, "%s: %s (%s)", path, what, text);
}

void
confab_media_file_free (ConfabMediaFile *self)
{
  if (self == NULL)
    return;
  avformat_close_input (&self->fmt);
  avcodec_free_context (&self->codec);
  av_packet_free (&self->packet);
  av_frame_free (&self->frame);
  av_frame_free (&self->showing);
  av_frame_free (&self->next);
  sws_freeContext (self->sws);
  g_clear_pointer (&self->current, confab_video_frame_unref);
  swr_free (&self->swr);
  av_channel_layout_uninit (&self->swr_layout);
  g_free (self->fifo);
  g_free (self->path);
  g_free (self);
}

static ConfabMediaFile *
open_stream (const char *path, enum AVMediaType type, GError **error)
{
  g_autoptr (ConfabMediaFile) self = g_new0 (ConfabMediaFile, 1);
  const char *kind = type == AVMEDIA_TYPE_VIDEO ? "video" : "audio";
  const AVCodec *decoder;
  AVStream *stream = NULL;
  int ret;

  confab_ffmpeg_route_logs ();
  self->path = g_strdup (path);
  self->type = type;
  self->stream_index = -1;
  ret = avformat_open_input (&self->fmt, path, NULL, NULL);
  if (ret < 0)
    {
      set_ffmpeg_error (error, CONFAB_MEDIA_FILE_ERROR_OPEN, path, "cannot open", ret);
      return NULL;
    }
  ret = avformat_find_stream_info (self->fmt, NULL);
  if (ret < 0)
    {
      set_ffmpeg_error (error, CONFAB_MEDIA_FILE_ERROR_OPEN, path, "not a readable media file",
                        ret);
      return NULL;
    }
  /* The first stream of the kind (cover art is a picture, not video). */
  for (unsigned i = 0; i < self->fmt->nb_streams; i++)
    {
      AVStream *candidate = self->fmt->streams[i];

      if (self->stream_index < 0 && candidate->codecpar->codec_type == type &&
          !(candidate->disposition & AV_DISPOSITION_ATTACHED_PIC))
        {
          self->stream_index = (int) i;
          stream = candidate;
        }
      else
        candidate->discard = AVDISCARD_ALL;
    }
  if (stream == NULL)
    {
      g_set_error (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_NO_STREAM,
                   "%s: no %s stream", path, kind);
      return NULL;
    }
  decoder = avcodec_find_decoder (stream->codecpar->codec_id);
  if (decoder == NULL)
    {
      g_set_error (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_NO_STREAM,
                   "%s: no decoder for its %s (%s)", path, kind,
                   avcodec_get_name (stream->codecpar->codec_id));
      return NULL;
    }
  self->codec = avcodec_alloc_context3 (decoder);
  self->packet = av_packet_alloc ();
  self->frame = av_frame_alloc ();
  if (self->codec == NULL || self->packet == NULL || self->frame == NULL)
    g_error ("out of memory");
  ret = avcodec_parameters_to_context (self->codec, stream->codecpar);
  if (ret >= 0)
    {
      /* One thread: the encoder of the call needs the other core. */
      self->codec->thread_count = 1;
      ret = avcodec_open2 (self->codec, decoder, NULL);
    }
  if (ret < 0)
    {
      set_ffmpeg_error (error, CONFAB_MEDIA_FILE_ERROR_NO_STREAM, path, "cannot decode", ret);
      return NULL;
    }
  self->time_base = stream->time_base;
  self->start_us = stream->start_time != AV_NOPTS_VALUE
                       ? av_rescale_q (stream->start_time, stream->time_base, AV_TIME_BASE_Q)
                       : 0;
  return g_steal_pointer (&self);
}

/* Back to the first packet after the end of the file. */
static gboolean
rewind_file (ConfabMediaFile *self, GError **error)
{
  int ret = av_seek_frame (self->fmt, self->stream_index,
                           self->fmt->streams[self->stream_index]->start_time != AV_NOPTS_VALUE
                               ? self->fmt->streams[self->stream_index]->start_time
                               : 0,
                           AVSEEK_FLAG_BACKWARD);

  /* Raw streams without an index: back to byte 0. */
  if (ret < 0)
    ret = av_seek_frame (self->fmt, -1, 0, AVSEEK_FLAG_BYTE);
  if (ret < 0)
    {
      set_ffmpeg_error (error, CONFAB_MEDIA_FILE_ERROR_DECODE, self->path,
                        "cannot go back to its start to loop", ret);
      return FALSE;
    }
  avcodec_flush_buffers (self->codec);
  self->draining = FALSE;
  self->decoded_this_pass = FALSE;
  self->loops++;
  return TRUE;
}

/* The next decoded frame into self->frame, looping at the end. Damaged
 * packets are skipped; FALSE only when a whole pass (or a long stretch)
 * yields nothing. */
static gboolean
decode_next (ConfabMediaFile *self, gboolean *looped, GError **error)
{
  guint steps = 0;
  int ret;

  *looped = FALSE;
  while (TRUE)
    {
      if (++steps > MAX_PACKETS_WITHOUT_FRAME)
        {
          g_set_error (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_DECODE,
                       "%s: %d packets without a decodable frame", self->path,
                       MAX_PACKETS_WITHOUT_FRAME);
          return FALSE;
        }
      ret = avcodec_receive_frame (self->codec, self->frame);
      if (ret >= 0)
        {
          self->decoded_this_pass = TRUE;
          return TRUE;
        }
      if (ret == AVERROR_EOF)
        {
          if (!self->decoded_this_pass)
            {
              g_set_error (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_DECODE,
                           "%s: no %s frame decodes", self->path,
                           self->type == AVMEDIA_TYPE_VIDEO ? "video" : "audio");
              return FALSE;
            }
          if (!rewind_file (self, error))
            return FALSE;
          *looped = TRUE;
          continue;
        }
      /* EAGAIN wants input; a decode error skips what caused it. */
      if (self->draining)
        {
          if (ret != AVERROR (EAGAIN))
            continue;
          /* A decoder that asks for input while draining is done. */
          self->draining = FALSE;
          avcodec_flush_buffers (self->codec);
          if (!self->decoded_this_pass)
            {
              g_set_error (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_DECODE,
                           "%s: no frame decodes", self->path);
              return FALSE;
            }
          if (!rewind_file (self, error))
            return FALSE;
          *looped = TRUE;
          continue;
        }
      ret = av_read_frame (self->fmt, self->packet);
      if (ret < 0)
        {
          /* The end, or a damaged tail: what was read is all there is. */
          self->draining = TRUE;
          avcodec_send_packet (self->codec, NULL);
          continue;
        }
      if (self->packet->stream_index == self->stream_index)
        avcodec_send_packet (self->codec, self->packet);
      av_packet_unref (self->packet);
    }
}

/* ---- video ---------------------------------------------------------------------- */

static void
release_av_frame (gpointer data)
{
  AVFrame *frame = data;

  av_frame_free (&frame);
}

/* `showing` as a ConfabVideoFrame: the decoder's own picture when it is
 * already I420 at the asked size (no copy), else scaled into a frame of
 * ours, reused while nobody else holds it. */
static gboolean
convert_showing (ConfabMediaFile *self, GError **error)
{
  AVFrame *src = self->showing;

  if ((src->format == AV_PIX_FMT_YUV420P || src->format == AV_PIX_FMT_YUVJ420P) &&
      src->width == self->width && src->height == self->height && src->linesize[0] > 0 &&
      src->linesize[1] > 0 && src->linesize[2] > 0)
    {
      AVFrame *ref = av_frame_clone (src);
      guint8 *planes[3];
      int strides[3];

      if (ref == NULL)
        g_error ("out of memory");
      for (int i = 0; i < 3; i++)
        {
          planes[i] = ref->data[i];
          strides[i] = ref->linesize[i];
        }
      g_clear_pointer (&self->current, confab_video_frame_unref);
      self->current =
          confab_video_frame_new_wrapped (CONFAB_PIXEL_FORMAT_I420, self->width, self->height,
                                          planes, strides, release_av_frame, ref);
    }
  else
    {
      if (self->current == NULL || !confab_video_frame_is_writable (self->current))
        {
          g_clear_pointer (&self->current, confab_video_frame_unref);
          self->current = confab_video_frame_new (self->width, self->height);
        }
      self->sws =
          sws_getCachedContext (self->sws, src->width, src->height, src->format, self->width,
                                self->height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
      if (self->sws == NULL)
        {
          g_set_error (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_DECODE,
                       "%s: cannot convert %dx%d %s pictures", self->path, src->width, src->height,
                       av_get_pix_fmt_name (src->format));
          return FALSE;
        }
      {
        /* libswscale reads four planes' pointers and strides (the fourth: alpha). */
        guint8 *const dst[4] = { self->current->planes[0], self->current->planes[1],
                                 self->current->planes[2], NULL };
        const int dst_strides[4] = { self->current->strides[0], self->current->strides[1],
                                     self->current->strides[2], 0 };

        sws_scale (self->sws, (const uint8_t *const *) src->data, src->linesize, 0, src->height,
                   dst, dst_strides);
      }
    }
  self->current_handed_out = FALSE;
  return TRUE;
}

/* Decodes the next picture into `next` with its time on the looping clock. */
static gboolean
decode_next_picture (ConfabMediaFile *self, GError **error)
{
  gboolean looped;
  gint64 ts, pts_us;

  if (!decode_next (self, &looped, error))
    return FALSE;
  if (looped)
    /* The pass lasted up to the end of its last picture. */
    self->loop_offset_us = self->last_pts_us + self->frame_duration_us;
  ts = self->frame->best_effort_timestamp;
  if (ts != AV_NOPTS_VALUE)
    pts_us =
        av_rescale_q (ts, self->time_base, AV_TIME_BASE_Q) - self->start_us + self->loop_offset_us;
  else
    pts_us = self->last_pts_us + self->frame_duration_us;
  /* Forward only, whatever the file says. */
  pts_us = MAX (pts_us, self->last_pts_us + 1);
  self->last_pts_us = pts_us;
  av_frame_unref (self->next);
  av_frame_move_ref (self->next, self->frame);
  self->next_pts_us = pts_us;
  self->have_next = TRUE;
  return TRUE;
}

ConfabMediaFile *
confab_media_file_open_video (const char *path, int width, int height, GError **error)
{
  g_autoptr (ConfabMediaFile) self = NULL;
  AVStream *stream;
  AVRational rate;

  g_return_val_if_fail (width > 0 && height > 0 && (width | height) % 2 == 0, NULL);
  self = open_stream (path, AVMEDIA_TYPE_VIDEO, error);
  if (self == NULL)
    return NULL;
  self->width = width;
  self->height = height;
  stream = self->fmt->streams[self->stream_index];
  rate = stream->avg_frame_rate.num > 0 ? stream->avg_frame_rate : stream->r_frame_rate;
  self->fps = rate.num > 0 && rate.den > 0 ? av_q2d (rate) : 0;
  self->frame_duration_us =
      self->fps >= 1 && self->fps <= 240 ? (gint64) (G_USEC_PER_SEC / self->fps) : 33333;
  self->next = av_frame_alloc ();
  if (self->next == NULL)
    g_error ("out of memory");
  self->last_pts_us = -self->frame_duration_us;
  /* The first picture now: a file that cannot play fails before the call. */
  if (!decode_next_picture (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

ConfabVideoFrame *
confab_media_file_next_video (ConfabMediaFile *self,
                              gint64 media_time_us,
                              gint64 pts_us,
                              GError **error)
{
  ConfabVideoFrame *frame;
  /* Bounded catch-up: a caller far behind skips ahead at most this many
   * pictures per call. */
  guint budget = 300;

  g_return_val_if_fail (self->type == AVMEDIA_TYPE_VIDEO, NULL);
  while (self->have_next && (self->showing == NULL || self->next_pts_us <= media_time_us) &&
         budget-- > 0)
    {
      if (self->showing == NULL)
        self->showing = av_frame_alloc ();
      av_frame_unref (self->showing);
      av_frame_move_ref (self->showing, self->next);
      self->have_next = FALSE;
      self->showing_new = TRUE;
      if (!decode_next_picture (self, error))
        return NULL;
    }
  if (self->showing_new)
    {
      if (!convert_showing (self, error))
        return NULL;
      self->showing_new = FALSE;
    }
  /* A picture shown again gets its own stamp in a new wrapper, unless no one
   * else holds it any more. */
  if (!self->current_handed_out || confab_video_frame_is_writable (self->current))
    frame = confab_video_frame_ref (self->current);
  else
    frame = confab_video_frame_new_wrapped (CONFAB_PIXEL_FORMAT_I420, self->width, self->height,
                                            self->current->planes, self->current->strides,
                                            (GDestroyNotify) confab_video_frame_unref,
                                            confab_video_frame_ref (self->current));
  self->current_handed_out = TRUE;
  frame->pts_us = pts_us;
  return frame;
}

void
confab_media_file_set_video_size (ConfabMediaFile *self, int width, int height)
{
  g_return_if_fail (width > 0 && height > 0 && (width | height) % 2 == 0);
  if (width == self->width && height == self->height)
    return;
  self->width = width;
  self->height = height;
  /* Converted again at the new size on the next call. */
  self->showing_new = self->showing != NULL;
  g_clear_pointer (&self->current, confab_video_frame_unref);
}

void
confab_media_file_get_video_info (ConfabMediaFile *self, int *width, int *height, double *fps)
{
  AVCodecParameters *par = self->fmt->streams[self->stream_index]->codecpar;

  if (width != NULL)
    *width = self->type == AVMEDIA_TYPE_VIDEO ? par->width : 0;
  if (height != NULL)
    *height = self->type == AVMEDIA_TYPE_VIDEO ? par->height : 0;
  if (fps != NULL)
    *fps = self->fps;
}

guint
confab_media_file_get_loops (ConfabMediaFile *self)
{
  return self->loops;
}

/* ---- audio ---------------------------------------------------------------------- */

/* (Re)configures the resampler for this frame's format, rate and layout. */
static gboolean
setup_resampler (ConfabMediaFile *self, GError **error)
{
  AVFrame *frame = self->frame;
  AVChannelLayout in = { 0 };
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  int ret;

  if (frame->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC)
    ret = av_channel_layout_copy (&in, &frame->ch_layout);
  else
    {
      av_channel_layout_default (&in, MAX (frame->ch_layout.nb_channels, 1));
      ret = 0;
    }
  if (ret < 0)
    goto failed;
  if (self->swr != NULL && self->swr_format == frame->format &&
      self->swr_rate == frame->sample_rate &&
      av_channel_layout_compare (&in, &self->swr_layout) == 0)
    {
      av_channel_layout_uninit (&in);
      return TRUE;
    }
  swr_free (&self->swr);
  ret = swr_alloc_set_opts2 (&self->swr, &mono, AV_SAMPLE_FMT_S16, OUTPUT_RATE, &in, frame->format,
                             frame->sample_rate, 0, NULL);
  if (ret >= 0)
    ret = swr_init (self->swr);
  if (ret < 0)
    {
      av_channel_layout_uninit (&in);
      goto failed;
    }
  av_channel_layout_uninit (&self->swr_layout);
  self->swr_layout = in;
  self->swr_format = frame->format;
  self->swr_rate = frame->sample_rate;
  return TRUE;

failed:
  swr_free (&self->swr);
  set_ffmpeg_error (error, CONFAB_MEDIA_FILE_ERROR_DECODE, self->path, "cannot resample its audio",
                    ret);
  return FALSE;
}

static gboolean
decode_audio (ConfabMediaFile *self, GError **error)
{
  gboolean looped;
  guint8 *out;
  int room, n;

  if (!decode_next (self, &looped, error))
    return FALSE;
  /* A frame that claims no samples or no rate is skipped. */
  if (self->frame->sample_rate <= 0 || self->frame->nb_samples <= 0)
    {
      av_frame_unref (self->frame);
      return TRUE;
    }
  if (!setup_resampler (self, error))
    {
      av_frame_unref (self->frame);
      return FALSE;
    }
  room = swr_get_out_samples (self->swr, self->frame->nb_samples);
  if (room < 0)
    room = 0;
  if (self->fifo_len + (gsize) room > self->fifo_size)
    {
      self->fifo_size = self->fifo_len + (gsize) room;
      self->fifo = g_renew (gint16, self->fifo, self->fifo_size);
    }
  out = (guint8 *) (self->fifo + self->fifo_len);
  n = swr_convert (self->swr, &out, room, (const uint8_t **) self->frame->extended_data,
                   self->frame->nb_samples);
  av_frame_unref (self->frame);
  if (n > 0)
    self->fifo_len += (gsize) n;
  return TRUE;
}

ConfabMediaFile *
confab_media_file_open_audio (const char *path, GError **error)
{
  g_autoptr (ConfabMediaFile) self = open_stream (path, AVMEDIA_TYPE_AUDIO, error);
  guint tries = 0;

  if (self == NULL)
    return NULL;
  /* The first samples now: a file that cannot play fails before the call. */
  while (self->fifo_len == 0)
    {
      if (!decode_audio (self, error))
        return NULL;
      if (++tries > MAX_PACKETS_WITHOUT_FRAME)
        {
          g_set_error (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_DECODE,
                       "%s: its audio yields no samples", path);
          return NULL;
        }
    }
  return g_steal_pointer (&self);
}

gboolean
confab_media_file_read_audio (ConfabMediaFile *self, gint16 *samples, GError **error)
{
  guint tries = 0;

  g_return_val_if_fail (self->type == AVMEDIA_TYPE_AUDIO, FALSE);
  while (self->fifo_len < CONFAB_MEDIA_FILE_CHUNK_SAMPLES)
    {
      if (!decode_audio (self, error))
        return FALSE;
      if (++tries > MAX_PACKETS_WITHOUT_FRAME)
        {
          g_set_error (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_DECODE,
                       "%s: its audio stopped yielding samples", self->path);
          return FALSE;
        }
    }
  memcpy (samples, self->fifo, CONFAB_MEDIA_FILE_CHUNK_SAMPLES * sizeof (gint16));
  self->fifo_len -= CONFAB_MEDIA_FILE_CHUNK_SAMPLES;
  memmove (self->fifo, self->fifo + CONFAB_MEDIA_FILE_CHUNK_SAMPLES,
           self->fifo_len * sizeof (gint16));
  return TRUE;
}
