/* test-record.c: ConfabRecorder (received packets remuxed into Matroska) and
 * ConfabMediaFile (a media file as a looping live source), with real
 * encoders' packets, read back and decoded with libavformat/libavcodec; and
 * confab-cli's clean refusal of files it cannot read or write. */
#define G_LOG_DOMAIN "test-record"

#include "confab-audio-encoder.h"
#include "confab-media-file.h"
#include "confab-recorder.h"
#include "confab-test-cli.h"
#include "confab-test-source.h"
#include "confab-test-audio.h"
#include "confab-test-util.h"
#include "confab-video-encoder.h"

#include <glib/gstdio.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <math.h>
#include <string.h>

#define WIDTH  320
#define HEIGHT 240
#define FPS    30

/* ---- packets from real encoders ---------------------------------------------------- */

typedef struct
{
  const char *user;
  ConfabRecorderKind kind;
  GBytes *payload;
  gboolean is_key;
  guint64 sequence;
  gint64 at_us; /* media time: the wire's timestamp is made from it when fed */
} Packet;

static void
packet_clear (gpointer data)
{
  g_bytes_unref (((Packet *) data)->payload);
}

static int
compare_packets (gconstpointer a, gconstpointer b)
{
  const Packet *x = a, *y = b;

  return x->at_us < y->at_us ? -1 : x->at_us > y->at_us;
}

/* @user's camera (the moving test pattern) and a 440 Hz tone, from
 * @start_us to @end_us of media time, as a sender makes
 * them. */
static void
make_peer (
    GArray *packets, const char *user, ConfabVideoCodec codec, gint64 start_us, gint64 end_us)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder =
      confab_video_encoder_new (codec, WIDTH, HEIGHT, FPS, 0, 1, &error);
  g_autoptr (ConfabAudioEncoder) audio = confab_audio_encoder_new (0, &error);
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (WIDTH, HEIGHT);
  g_autoptr (ConfabToneSource) tone = confab_tone_source_new (440, 48000, 0.3);
  guint64 sequence = 0;

  g_assert_no_error (error);
  for (guint64 n = 0; start_us + (gint64) n * G_USEC_PER_SEC / FPS < end_us; n++)
    {
      gint64 t = start_us + (gint64) n * G_USEC_PER_SEC / FPS;
      g_autoptr (ConfabVideoFrame) frame = confab_test_pattern_next (pattern, n, t);
      ConfabEncodedFrame out;
      Packet p = { user, CONFAB_RECORDER_VIDEO };

      g_assert_true (confab_video_encoder_encode (encoder, frame, &out, &error));
      g_assert_no_error (error);
      if (out.size == 0)
        continue;
      p.payload = g_bytes_new (out.data, out.size);
      p.is_key = out.is_key;
      p.sequence = ++sequence;
      p.at_us = t;
      g_array_append_val (packets, p);
    }
  sequence = 0;
  for (gint64 t = start_us; t < end_us; t += 20000)
    {
      gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
      guint8 opus[CONFAB_AUDIO_MAX_PACKET];
      Packet p = { user, CONFAB_RECORDER_AUDIO };
      gssize len;

      confab_tone_source_fill (tone, pcm, G_N_ELEMENTS (pcm));
      len = confab_audio_encoder_encode (audio, pcm, opus, sizeof opus, &error);
      g_assert_no_error (error);
      p.payload = g_bytes_new (opus, len);
      p.is_key = TRUE;
      p.sequence = ++sequence;
      p.at_us = t;
      g_array_append_val (packets, p);
    }
}

/* Feeds @packets in media time order, stamped as senders whose media
 * time 0 was @epoch_us (video: epoch µs, audio: epoch ms). */
static void
feed (ConfabRecorder *recorder, GArray *packets, gint64 epoch_us)
{
  g_array_sort (packets, compare_packets);
  for (guint i = 0; i < packets->len; i++)
    {
      Packet *p = &g_array_index (packets, Packet, i);

      gint64 t = epoch_us + p->at_us;

      confab_recorder_add_packet (recorder, p->user, 1, p->kind, p->payload, p->is_key, p->sequence,
                                  p->kind == CONFAB_RECORDER_AUDIO ? (double) (t / 1000)
                                                                   : (double) t);
    }
}

static GArray *
packets_new (void)
{
  GArray *packets = g_array_new (FALSE, TRUE, sizeof (Packet));

  g_array_set_clear_func (packets, packet_clear);
  return packets;
}

/* ---- reading a recording back ------------------------------------------------------ */

typedef struct
{
  enum AVCodecID codec;
  enum AVMediaType type;
  int width;
  int height;
  int extradata_size;
  char title[64];
  guint packets;
  guint decoded;
  guint decode_errors;
  double first_s;
  double end_s;
} TrackInfo;

typedef struct
{
  guint n_tracks;
  TrackInfo tracks[8];
  double duration_s;
  char creation_time[64];
} FileInfo;

/* Every packet of @path, every video frame decoded. */
static void
read_recording (const char *path, FileInfo *info)
{
  AVFormatContext *fmt = NULL;
  AVCodecContext *decoders[8] = { NULL };
  AVPacket *packet = av_packet_alloc ();
  AVFrame *frame = av_frame_alloc ();
  AVDictionaryEntry *entry;

  memset (info, 0, sizeof *info);
  g_assert_cmpint (avformat_open_input (&fmt, path, NULL, NULL), ==, 0);
  g_assert_cmpint (avformat_find_stream_info (fmt, NULL), >=, 0);
  g_assert_cmpuint (fmt->nb_streams, <=, G_N_ELEMENTS (info->tracks));
  info->n_tracks = fmt->nb_streams;
  info->duration_s = fmt->duration != AV_NOPTS_VALUE ? fmt->duration / 1e6 : -1;
  entry = av_dict_get (fmt->metadata, "creation_time", NULL, 0);
  if (entry != NULL)
    g_strlcpy (info->creation_time, entry->value, sizeof info->creation_time);
  for (unsigned i = 0; i < fmt->nb_streams; i++)
    {
      AVCodecParameters *par = fmt->streams[i]->codecpar;
      TrackInfo *track = &info->tracks[i];

      track->codec = par->codec_id;
      track->type = par->codec_type;
      track->width = par->width;
      track->height = par->height;
      track->extradata_size = par->extradata_size;
      track->first_s = -1;
      entry = av_dict_get (fmt->streams[i]->metadata, "title", NULL, 0);
      if (entry != NULL)
        g_strlcpy (track->title, entry->value, sizeof track->title);
      if (par->codec_type == AVMEDIA_TYPE_VIDEO)
        {
          const AVCodec *codec = avcodec_find_decoder (par->codec_id);

          decoders[i] = avcodec_alloc_context3 (codec);
          avcodec_parameters_to_context (decoders[i], par);
          decoders[i]->thread_count = 1;
          decoders[i]->err_recognition = AV_EF_EXPLODE;
          g_assert_cmpint (avcodec_open2 (decoders[i], codec, NULL), ==, 0);
        }
    }
  while (av_read_frame (fmt, packet) >= 0)
    {
      TrackInfo *track = &info->tracks[packet->stream_index];
      AVRational tb = fmt->streams[packet->stream_index]->time_base;
      double t = packet->pts * av_q2d (tb);

      track->packets++;
      if (track->first_s < 0)
        track->first_s = t;
      track->end_s = MAX (track->end_s, t + packet->duration * av_q2d (tb));
      if (decoders[packet->stream_index] != NULL)
        {
          AVCodecContext *decoder = decoders[packet->stream_index];

          if (avcodec_send_packet (decoder, packet) < 0)
            track->decode_errors++;
          while (avcodec_receive_frame (decoder, frame) >= 0)
            {
              g_assert_cmpint (frame->width, ==, track->width);
              track->decoded++;
            }
        }
      av_packet_unref (packet);
    }
  for (unsigned i = 0; i < fmt->nb_streams; i++)
    if (decoders[i] != NULL)
      {
        avcodec_send_packet (decoders[i], NULL);
        while (avcodec_receive_frame (decoders[i], frame) >= 0)
          info->tracks[i].decoded++;
        avcodec_free_context (&decoders[i]);
      }
  av_frame_free (&frame);
  av_packet_free (&packet);
  avformat_close_input (&fmt);
}

static TrackInfo *
find_track (FileInfo *info, const char *title)
{
  for (guint i = 0; i < info->n_tracks; i++)
    if (g_strcmp0 (info->tracks[i].title, title) == 0)
      return &info->tracks[i];
  g_error ("no track “%s”", title);
}

static char *
temp_path (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("confab-record-XXXXXX", &error);

  g_assert_no_error (error);
  return g_build_filename (dir, name, NULL);
}

static void
remove_temp (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *file = g_build_filename (dir, name, NULL);

      g_unlink (file);
    }
  g_rmdir (dir);
}

/* ---- recorder --------------------------------------------------------------------- */

/* Three peers with the three codecs, starting at different times: one file,
 * six tracks, every frame there and decodable, each peer where it started. */
static guint
count_video (GArray *packets, const char *user)
{
  guint n = 0;

  for (guint i = 0; i < packets->len; i++)
    n += g_array_index (packets, Packet, i).kind == CONFAB_RECORDER_VIDEO &&
         g_strcmp0 (g_array_index (packets, Packet, i).user, user) == 0;
  return n;
}

/* @made: video frames each encoder made (rate control may drop one). */
static char *
record_three_peers (guint made[3])
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) packets = packets_new ();
  char *path = temp_path ("call.mkv");
  g_autoptr (ConfabRecorder) recorder = confab_recorder_new (path, &error);

  g_assert_no_error (error);
  /* The header at the end: feeding is slow under valgrind, and the rule's
   * timing is /media/record/late-joiner's to test. */
  confab_recorder_set_wait (recorder, 60000, 60000);
  make_peer (packets, "alice", CONFAB_VIDEO_CODEC_VP9, 0, 3000000);
  make_peer (packets, "bob", CONFAB_VIDEO_CODEC_VP8, 500000, 3000000);
  make_peer (packets, "carol", CONFAB_VIDEO_CODEC_H264, 200000, 3000000);
  /* Stamped now: the recorder trusts a sender's clock within 10 s of its own. */
  feed (recorder, packets, g_get_real_time ());
  if (made != NULL)
    {
      made[0] = count_video (packets, "alice");
      made[1] = count_video (packets, "bob");
      made[2] = count_video (packets, "carol");
    }
  g_assert_true (confab_recorder_finish (recorder, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (confab_recorder_get_files (recorder)[0], ==, path);
  g_assert_null (confab_recorder_get_files (recorder)[1]);
  return path;
}

static void
test_record_remux (void)
{
  guint made[3];
  g_autofree char *path = record_three_peers (made);
  FileInfo info;
  struct
  {
    const char *user;
    enum AVCodecID codec;
    double start_s;
  } peers[] = {
    { "alice", AV_CODEC_ID_VP9, 0 },
    { "bob", AV_CODEC_ID_VP8, 0.5 },
    { "carol", AV_CODEC_ID_H264, 0.2 },
  };

  read_recording (path, &info);
  g_assert_cmpuint (info.n_tracks, ==, 6);
  g_test_message ("duration %.3f s, created %s", info.duration_s, info.creation_time);
  g_assert_cmpfloat (fabs (info.duration_s - 3.0), <, 0.03);
  g_assert_cmpstr (info.creation_time, !=, "");
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    {
      g_autofree char *video_title = g_strdup_printf ("%s video", peers[i].user);
      g_autofree char *audio_title = g_strdup_printf ("%s audio", peers[i].user);
      TrackInfo *video = find_track (&info, video_title);
      TrackInfo *audio = find_track (&info, audio_title);
      guint frames = (guint) ceil ((3.0 - peers[i].start_s) * FPS - 1e-9);

      /* Rate control may skip a frame; every frame made is written. */
      g_assert_cmpuint (made[i], >=, frames - 3);
      frames = made[i];

      g_test_message ("%s: %u frames (%u decoded) %.3f-%.3f s, %u audio packets %.3f-%.3f s",
                      peers[i].user, video->packets, video->decoded, video->first_s, video->end_s,
                      audio->packets, audio->first_s, audio->end_s);
      g_assert_cmpint (video->codec, ==, peers[i].codec);
      g_assert_cmpint (video->width, ==, WIDTH);
      g_assert_cmpint (video->height, ==, HEIGHT);
      g_assert_cmpuint (video->packets, ==, frames);
      g_assert_cmpuint (video->decoded, ==, frames);
      g_assert_cmpuint (video->decode_errors, ==, 0);
      /* Each peer where its capture clock put it, to the millisecond. */
      g_assert_cmpfloat (fabs (video->first_s - peers[i].start_s), <=, 0.0011);
      g_assert_cmpint (audio->codec, ==, AV_CODEC_ID_OPUS);
      g_assert_cmpint (audio->extradata_size, ==, 19);
      g_assert_cmpuint (audio->packets, ==, (guint) ((3.0 - peers[i].start_s) * 50 + 0.5));
      g_assert_cmpfloat (fabs (audio->first_s - peers[i].start_s), <=, 0.0011);
      g_assert_cmpfloat (fabs (audio->end_s - 3.0), <=, 0.0011);
    }
  /* avcC from the key frame's SPS/PPS. */
  g_assert_cmpint (find_track (&info, "carol video")->extradata_size, >, 8);
  remove_temp (path);
}

/* Deltas before the first key frame, and deltas after a lost frame until the
 * next key frame, are not written; what is written decodes cleanly. */
static void
test_record_wait_for_key (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) packets = packets_new ();
  g_autofree char *path = temp_path ("keys.mkv");
  g_autoptr (ConfabRecorder) recorder = confab_recorder_new (path, &error);
  g_autoptr (ConfabVideoEncoder) encoder =
      confab_video_encoder_new (CONFAB_VIDEO_CODEC_VP8, WIDTH, HEIGHT, FPS, 0, 1, &error);
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (WIDTH, HEIGHT);
  gint64 epoch = g_get_real_time ();
  ConfabRecorderStats stats;
  FileInfo info;

  g_assert_no_error (error);
  for (guint n = 0; n < 22; n++)
    {
      g_autoptr (ConfabVideoFrame) frame = confab_test_pattern_next (pattern, n, 0);
      ConfabEncodedFrame out;

      if (n == 10 || n == 19)
        confab_video_encoder_request_keyframe (encoder);
      g_assert_true (confab_video_encoder_encode (encoder, frame, &out, &error));
      g_assert_cmpuint (out.size, >, 0);
      g_assert_true (out.is_key == (n == 0 || n == 10 || n == 19));
      /* The receiver joined after frame 0; frame 15 was lost. */
      if (n == 0 || n == 15)
        continue;
      {
        /* A copy: the encoder reuses its buffer, the recorder keeps a reference. */
        g_autoptr (GBytes) payload = g_bytes_new (out.data, out.size);

        confab_recorder_add_packet (recorder, "dave", 7, CONFAB_RECORDER_VIDEO, payload, out.is_key,
                                    n, (double) (epoch + n * 33333));
      }
    }
  g_assert_true (confab_recorder_finish (recorder, &error));
  confab_recorder_get_stats (recorder, &stats);
  /* 1-9 before the key; 16-18 after the hole. */
  g_assert_cmpuint (stats.video_frames, ==, 1 + 4 + 3);
  g_assert_cmpuint (stats.dropped, ==, 9 + 3);
  read_recording (path, &info);
  g_assert_cmpuint (info.n_tracks, ==, 1);
  g_assert_cmpuint (info.tracks[0].packets, ==, 8);
  g_assert_cmpuint (info.tracks[0].decoded, ==, 8);
  g_assert_cmpuint (info.tracks[0].decode_errors, ==, 0);
  g_assert_cmpfloat (info.tracks[0].first_s, <=, 0.0011);
  remove_temp (path);
}

/* Streams that come after the header go to the next file; each file starts
 * at 0 and says when (creation_time), so they line up. */
static void
test_record_late_joiner (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) early = packets_new ();
  g_autoptr (GArray) late = packets_new ();
  g_autofree char *path = temp_path ("late.mkv");
  g_autofree char *second = NULL;
  g_autoptr (ConfabRecorder) recorder = confab_recorder_new (path, &error);
  gint64 epoch;
  gboolean never = FALSE;
  g_autoptr (GDateTime) first_start = NULL;
  g_autoptr (GDateTime) second_start = NULL;
  FileInfo info;

  g_assert_no_error (error);
  make_peer (early, "alice", CONFAB_VIDEO_CODEC_VP9, 0, 1000000);
  make_peer (late, "erin", CONFAB_VIDEO_CODEC_VP8, 1000000, 2000000);
  epoch = g_get_real_time ();
  feed (recorder, early, epoch);
  /* The header goes out a second after the first packet, on the timer. */
  g_assert_null (confab_recorder_get_files (recorder)[0]);
  confab_test_run_until (&never, 1500);
  g_assert_cmpstr (confab_recorder_get_files (recorder)[0], ==, path);
  feed (recorder, late, epoch);
  g_assert_true (confab_recorder_finish (recorder, &error));
  second = g_strdup_printf ("%.*s.1.mkv", (int) strlen (path) - 4, path);
  g_assert_cmpstr (confab_recorder_get_files (recorder)[1], ==, second);

  read_recording (path, &info);
  g_assert_cmpuint (info.n_tracks, ==, 2);
  g_assert_cmpuint (find_track (&info, "alice video")->packets, ==, 30);
  first_start = g_date_time_new_from_iso8601 (info.creation_time, NULL);
  read_recording (second, &info);
  g_assert_cmpuint (info.n_tracks, ==, 2);
  g_assert_cmpuint (find_track (&info, "erin video")->packets, ==, 30);
  g_assert_cmpuint (find_track (&info, "erin video")->decoded, ==, 30);
  /* Audio stamps are whole milliseconds, video microseconds. */
  g_assert_cmpfloat (find_track (&info, "erin video")->first_s, <=, 0.0011);
  g_assert_cmpfloat (find_track (&info, "erin audio")->first_s, <=, 0.0011);
  /* Erin came a second after Alice: so says the second file's start. */
  second_start = g_date_time_new_from_iso8601 (info.creation_time, NULL);
  g_assert_nonnull (first_start);
  g_assert_nonnull (second_start);
  g_assert_cmpint (ABS (g_date_time_difference (second_start, first_start) - 1000000), <=, 2000);
  remove_temp (path);
}

static void
test_record_bad_path (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabRecorder) recorder =
      confab_recorder_new ("/nonexistent-confab-dir/x.mkv", &error);

  g_assert_null (recorder);
  g_assert_error (error, CONFAB_RECORDER_ERROR, CONFAB_RECORDER_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, "/nonexistent-confab-dir/x.mkv"));
}

/* Nobody sent anything: no empty file is left behind. */
static void
test_record_nothing (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = temp_path ("empty.mkv");
  g_autoptr (ConfabRecorder) recorder = confab_recorder_new (path, &error);
  static const guint8 junk[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
  /* Opus code 3 with a frame count of 0. */
  static const guint8 bad_opus[] = { 0x03, 0x00 };
  g_autoptr (GBytes) video = g_bytes_new_static (junk, sizeof junk);
  g_autoptr (GBytes) audio = g_bytes_new_static (bad_opus, sizeof bad_opus);
  ConfabRecorderStats stats;

  g_assert_no_error (error);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  /* Neither a "key frame" of no known codec nor an invalid Opus packet
   * makes a track. */
  confab_recorder_add_packet (recorder, "x", 1, CONFAB_RECORDER_VIDEO, video, TRUE, 1, 1.0);
  confab_recorder_add_packet (recorder, "x", 1, CONFAB_RECORDER_AUDIO, audio, TRUE, 1, 1.0);
  g_assert_true (confab_recorder_finish (recorder, &error));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_null (confab_recorder_get_files (recorder)[0]);
  confab_recorder_get_stats (recorder, &stats);
  g_assert_cmpuint (stats.dropped, ==, 2);
  g_assert_cmpuint (stats.files, ==, 0);
  remove_temp (path);
}

/* ---- media file ------------------------------------------------------------------- */

/* The recording as a source: pictures follow the file's clock (the pattern
 * moves 4 px a frame, so the right one is told apart from its neighbours),
 * at its size without scaling or scaled, looping at the end. */
static void
test_file_video (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = record_three_peers (NULL);
  g_autoptr (ConfabMediaFile) file = confab_media_file_open_video (path, WIDTH, HEIGHT, &error);
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (WIDTH, HEIGHT);
  const struct
  {
    gint64 at_us;
    guint frame;
  } checks[] = { { 0, 0 }, { 1010000, 30 }, { 2010000, 60 }, { 4010000, 30 } };
  int width, height;
  double fps;

  g_assert_no_error (error);
  confab_media_file_get_video_info (file, &width, &height, &fps);
  g_assert_cmpint (width, ==, WIDTH);
  g_assert_cmpfloat (fabs (fps - 30), <, 0.01);
  for (guint i = 0; i < G_N_ELEMENTS (checks); i++)
    {
      g_autoptr (ConfabVideoFrame) got =
          confab_media_file_next_video (file, checks[i].at_us, 123 + i, &error);
      g_autoptr (ConfabVideoFrame) right = NULL;
      g_autoptr (ConfabVideoFrame) neighbour = NULL;
      double p_right, p_neighbour;

      g_assert_no_error (error);
      g_assert_cmpint (got->width, ==, WIDTH);
      g_assert_cmpint (got->pts_us, ==, 123 + i);
      right = confab_test_pattern_next (pattern, checks[i].frame, 0);
      p_right = confab_video_frame_psnr_y (right, got);
      neighbour = confab_test_pattern_next (pattern, checks[i].frame + 2, 0);
      p_neighbour = confab_video_frame_psnr_y (neighbour, got);
      g_test_message ("at %.2f s: %.1f dB against frame %u, %.1f dB against %u",
                      checks[i].at_us / 1e6, p_right, checks[i].frame, p_neighbour,
                      checks[i].frame + 2);
      g_assert_cmpfloat (p_right, >, 28);
      g_assert_cmpfloat (p_right, >, p_neighbour + 3);
    }
  /* 4.01 s into a 3 s file: once round. */
  g_assert_cmpuint (confab_media_file_get_loops (file), ==, 1);

  /* Scaled when asked for another size. */
  confab_media_file_set_video_size (file, 160, 120);
  {
    g_autoptr (ConfabVideoFrame) small = confab_media_file_next_video (file, 4100000, 0, &error);

    g_assert_no_error (error);
    g_assert_cmpint (small->width, ==, 160);
    g_assert_cmpint (small->height, ==, 120);
  }
  /* Many calls at the same moment: the same picture, its memory reused. */
  for (guint i = 0; i < 100; i++)
    {
      g_autoptr (ConfabVideoFrame) again = confab_media_file_next_video (file, 4100000, i, &error);

      g_assert_no_error (error);
      g_assert_cmpint (again->pts_us, ==, i);
    }
  remove_temp (path);
}

/* A 44.1 kHz stereo WAV with a 1 kHz tone: resampled to 48 kHz mono, the
 * tone keeps its pitch and the file loops without a stall. */
static void
test_file_audio (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = temp_path ("tone.wav");
  g_autoptr (ConfabMediaFile) file = NULL;
  g_autoptr (GArray) pcm = g_array_new (FALSE, FALSE, sizeof (gint16));
  const guint rate = 44100, seconds = 1;
  guint32 data_size = rate * seconds * 4;
  g_autoptr (GByteArray) wav = g_byte_array_new ();
  g_autofree char *recorded = NULL;
  guint32 u32;
  guint16 u16;

#define PUT32(v) (u32 = GUINT32_TO_LE (v), g_byte_array_append (wav, (guint8 *) &u32, 4))
#define PUT16(v) (u16 = GUINT16_TO_LE (v), g_byte_array_append (wav, (guint8 *) &u16, 2))
  g_byte_array_append (wav, (const guint8 *) "RIFF", 4);
  PUT32 (36 + data_size);
  g_byte_array_append (wav, (const guint8 *) "WAVEfmt ", 8);
  PUT32 (16);
  PUT16 (1);
  PUT16 (2);
  PUT32 (rate);
  PUT32 (rate * 4);
  PUT16 (4);
  PUT16 (16);
  g_byte_array_append (wav, (const guint8 *) "data", 4);
  PUT32 (data_size);
  for (guint i = 0; i < rate * seconds; i++)
    {
      gint16 s = (gint16) (10000 * sin (2 * G_PI * 1000 * i / rate));

      PUT16 ((guint16) s);
      PUT16 ((guint16) s);
    }
#undef PUT32
#undef PUT16
  g_assert_true (g_file_set_contents (path, (const char *) wav->data, wav->len, &error));

  file = confab_media_file_open_audio (path, &error);
  g_assert_no_error (error);
  /* 2.5 s from a 1 s file. */
  for (guint i = 0; i < 125; i++)
    {
      gint16 chunk[CONFAB_MEDIA_FILE_CHUNK_SAMPLES];

      g_assert_true (confab_media_file_read_audio (file, chunk, &error));
      g_array_append_vals (pcm, chunk, G_N_ELEMENTS (chunk));
    }
  g_assert_cmpuint (confab_media_file_get_loops (file), ==, 2);
  for (guint window = 0; window < 5; window++)
    {
      double f = confab_test_tone_frequency ((gint16 *) pcm->data + window * 24000, 24000, 48000);

      g_test_message ("0.5 s window %u: %.1f Hz", window, f);
      g_assert_cmpfloat (fabs (f - 1000), <, 3);
    }
  /* Stereo at 10000 each side came out as mono, not summed past it. */
  {
    gint16 peak = 0;

    for (guint i = 0; i < pcm->len; i++)
      peak = MAX (peak, g_array_index (pcm, gint16, i));
    g_assert_cmpint (peak, >, 8000);
    g_assert_cmpint (peak, <, 12000);
  }
  remove_temp (path);

  /* The recording's Opus track (the 440 Hz tone) as a source too. */
  recorded = record_three_peers (NULL);
  g_clear_pointer (&file, confab_media_file_free);
  file = confab_media_file_open_audio (recorded, &error);
  g_assert_no_error (error);
  g_array_set_size (pcm, 0);
  for (guint i = 0; i < 50; i++)
    {
      gint16 chunk[CONFAB_MEDIA_FILE_CHUNK_SAMPLES];

      g_assert_true (confab_media_file_read_audio (file, chunk, &error));
      g_array_append_vals (pcm, chunk, G_N_ELEMENTS (chunk));
    }
  g_assert_cmpfloat (
      fabs (confab_test_tone_frequency ((gint16 *) pcm->data + 4800, 24000, 48000) - 440), <, 3);
  remove_temp (recorded);
}

/* Missing, empty, random, text, truncated files and a file without the
 * asked stream: a clean error (or, for a truncated file that still holds
 * pictures, those pictures), never a crash or a hang. */
static void
test_file_bad (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *recorded = record_three_peers (NULL);
  g_autofree char *dir = g_path_get_dirname (recorded);
  g_autofree char *empty = g_build_filename (dir, "empty.mkv", NULL);
  g_autofree char *random = g_build_filename (dir, "random.mkv", NULL);
  g_autofree char *text = g_build_filename (dir, "text.mp4", NULL);
  g_autofree char *header = g_build_filename (dir, "header.mkv", NULL);
  g_autofree char *half = g_build_filename (dir, "half.mkv", NULL);
  g_autofree char *corrupt = g_build_filename (dir, "corrupt.mkv", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *noise = g_malloc (64 * 1024);
  gsize length = 0;
  ConfabMediaFile *file;
  GRand *rand = g_rand_new_with_seed (4);

  for (guint i = 0; i < 64 * 1024; i++)
    noise[i] = (char) g_rand_int (rand);
  g_rand_free (rand);
  g_assert_true (g_file_get_contents (recorded, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  g_assert_true (g_file_set_contents (random, noise, 64 * 1024, NULL));
  g_assert_true (g_file_set_contents (text, "hello, this is not a video\n", -1, NULL));
  g_assert_true (g_file_set_contents (header, contents, 600, NULL));
  g_assert_true (g_file_set_contents (half, contents, length / 2, NULL));
  /* The header intact, then 256 scrambled bytes in every kilobyte. */
  for (gsize at = 4096; at + 256 <= length; at += 1024)
    memcpy (contents + at, noise + at % (60 * 1024), 256);
  g_assert_true (g_file_set_contents (corrupt, contents, length, NULL));

  file = confab_media_file_open_video ("/nonexistent-confab/x.mkv", WIDTH, HEIGHT, &error);
  g_assert_null (file);
  g_assert_error (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, "/nonexistent-confab/x.mkv"));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  {
    const char *refused[] = { empty, random, text };

    for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
      {
        file = confab_media_file_open_video (refused[i], WIDTH, HEIGHT, &error);
        g_assert_null (file);
        g_assert_true (
            g_error_matches (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_OPEN) ||
            g_error_matches (error, CONFAB_MEDIA_FILE_ERROR, CONFAB_MEDIA_FILE_ERROR_NO_STREAM));
        g_test_message ("%s", error->message);
        g_clear_error (&error);
        file = confab_media_file_open_audio (refused[i], &error);
        g_assert_null (file);
        g_assert_nonnull (error);
        g_clear_error (&error);
      }
  }

  /* Truncated or scrambled: an error, or pictures for as long as asked. */
  {
    const char *damaged[] = { header, half, corrupt };

    for (guint i = 0; i < G_N_ELEMENTS (damaged); i++)
      {
        file = confab_media_file_open_video (damaged[i], WIDTH, HEIGHT, &error);
        g_test_message ("%s: %s", damaged[i], file != NULL ? "opens" : error->message);
        if (file == NULL)
          {
            g_assert_error (error, CONFAB_MEDIA_FILE_ERROR, error->code);
            g_clear_error (&error);
          }
        for (guint n = 0; file != NULL && n < 200; n++)
          {
            g_autoptr (ConfabVideoFrame) frame =
                confab_media_file_next_video (file, n * 33333, 0, &error);

            if (frame == NULL)
              {
                g_assert_nonnull (error);
                g_clear_error (&error);
                break;
              }
            g_assert_cmpint (frame->width, ==, WIDTH);
          }
        g_clear_pointer (&file, confab_media_file_free);
        file = confab_media_file_open_audio (damaged[i], &error);
        for (guint n = 0; file != NULL && n < 300; n++)
          {
            gint16 chunk[CONFAB_MEDIA_FILE_CHUNK_SAMPLES];

            if (!confab_media_file_read_audio (file, chunk, &error))
              break;
          }
        g_clear_error (&error);
        g_clear_pointer (&file, confab_media_file_free);
      }
  }
  /* Half a recording still plays what it holds. */
  file = confab_media_file_open_video (half, WIDTH, HEIGHT, &error);
  g_assert_no_error (error);
  confab_media_file_free (file);

  remove_temp (recorded);
}

/* ---- confab-cli ------------------------------------------------------------------- */

/* Files are opened before joining: a bad one is exit 2 with its name, and
 * no connection is tried (the relay address here answers nothing). */
static void
test_cli_bad_files (void)
{
  g_autofree char *dir = g_dir_make_tmp ("confab-record-XXXXXX", NULL);
  g_autofree char *garbage = g_build_filename (dir, "garbage.webm", NULL);
  g_autofree char *unwritable = g_build_filename (dir, "no", "such", "dir.mkv", NULL);
  g_autofree char *url =
      g_strdup_printf ("ws://127.0.0.1:%u/lobby/zed/room", (guint) confab_test_free_port ());
  const char *cases[][3] = {
    { "--video", "/nonexistent-confab/in.mp4", "/nonexistent-confab/in.mp4" },
    { "--audio", garbage, garbage },
    { "--record", unwritable, unwritable },
  };

  g_assert_true (g_file_set_contents (garbage, "\x1a\x45\xdf\xa3 not really", -1, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *args[] = { "join", url, cases[i][0], cases[i][1], "--duration", "2", NULL };
      g_autoptr (ConfabTestCli) run = confab_test_cli_startv (args);

      confab_test_cli_wait (run, 20000);
      g_test_message ("%s %s: exit %d, %s", cases[i][0], cases[i][1], run->status, run->err);
      g_assert_cmpint (run->status, ==, 2);
      g_assert_nonnull (strstr (run->err, cases[i][2]));
      g_assert_null (run->summary);
    }
  g_unlink (garbage);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/media/record/remux", test_record_remux);
  g_test_add_func ("/media/record/wait-for-key", test_record_wait_for_key);
  g_test_add_func ("/media/record/late-joiner", test_record_late_joiner);
  g_test_add_func ("/media/record/bad-path", test_record_bad_path);
  g_test_add_func ("/media/record/nothing", test_record_nothing);
  g_test_add_func ("/media/file/video", test_file_video);
  g_test_add_func ("/media/file/audio", test_file_audio);
  g_test_add_func ("/media/file/bad", test_file_bad);
  g_test_add_func ("/media/file/cli-bad-files", test_cli_bad_files);
  return g_test_run ();
}
