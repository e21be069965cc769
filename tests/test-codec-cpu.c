/* test-codec-cpu.c: the CPU time codecs count for themselves (confab-codec-
 * cpu.h), which the media benchmark divides a client's CPU by: it is non-zero
 * after real work, covers the codec library's worker threads, leaves out what
 * happens between calls (sleeping, or other work on the same thread), and the
 * process totals are the sum of every object's count. */
#define G_LOG_DOMAIN "test-codec-cpu"

#include "confab-audio-decoder.h"
#include "confab-audio-encoder.h"
#include "confab-codec-cpu.h"
#include "confab-test-source.h"
#include "confab-video-decoder.h"
#include "confab-video-encoder.h"

#include <time.h>

static gint64
clock_ns (clockid_t clock)
{
  struct timespec ts;

  clock_gettime (clock, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Burns @ns of this thread's CPU outside any codec call. */
static void
spin (gint64 ns)
{
  gint64 end = clock_ns (CLOCK_THREAD_CPUTIME_ID) + ns;
  volatile guint64 x = 0;

  while (clock_ns (CLOCK_THREAD_CPUTIME_ID) < end)
    for (int i = 0; i < 1000; i++)
      x += i;
}

/* Encodes @n frames of the test pattern; returns them and the process CPU
 * time (all threads) spent inside the encode calls and the calling thread's. */
static GPtrArray *
encode (ConfabVideoEncoder *encoder,
        int width,
        int height,
        guint n,
        gint64 *process_ns,
        gint64 *thread_ns)
{
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (width, height);
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  *process_ns = *thread_ns = 0;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ConfabVideoFrame) source = confab_test_pattern_next (pattern, i, i * 33333);
      g_autoptr (GError) error = NULL;
      ConfabEncodedFrame encoded;
      gint64 p0 = clock_ns (CLOCK_PROCESS_CPUTIME_ID), t0 = clock_ns (CLOCK_THREAD_CPUTIME_ID);

      g_assert_true (confab_video_encoder_encode (encoder, source, &encoded, &error));
      *thread_ns += clock_ns (CLOCK_THREAD_CPUTIME_ID) - t0;
      *process_ns += clock_ns (CLOCK_PROCESS_CPUTIME_ID) - p0;
      g_assert_no_error (error);
      g_ptr_array_add (frames, g_bytes_new (encoded.data, encoded.size));
    }
  return frames;
}

/* Decoding counts the time inside the calls only: neither a sleep nor CPU
 * burnt on the same thread between calls. */
static void
test_decoder_counts_calls_only (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder =
      confab_video_encoder_new (CONFAB_VIDEO_CODEC_VP9, 640, 360, 30, 0, 1, &error);
  g_autoptr (ConfabVideoDecoder) decoder = NULL;
  g_autoptr (GPtrArray) frames = NULL;
  guint64 process_before = confab_codec_cpu_get_process_ns (CONFAB_CODEC_CPU_VIDEO_DECODE);
  gint64 inside = 0, spun = 0, encode_process, encode_thread;

  g_assert_no_error (error);
  frames = encode (encoder, 640, 360, 40, &encode_process, &encode_thread);
  decoder = confab_video_decoder_new (CONFAB_VIDEO_CODEC_VP9, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (confab_video_decoder_get_cpu_ns (decoder), ==, 0);
  for (guint i = 0; i < frames->len; i++)
    {
      g_autoptr (ConfabVideoFrame) picture = NULL;
      gsize size;
      const guint8 *data = g_bytes_get_data (frames->pdata[i], &size);
      gint64 t0 = clock_ns (CLOCK_THREAD_CPUTIME_ID), t1;

      g_assert_true (confab_video_decoder_decode (decoder, data, size, i, &picture, &error));
      g_assert_no_error (error);
      g_assert_nonnull (picture);
      t1 = clock_ns (CLOCK_THREAD_CPUTIME_ID);
      inside += t1 - t0;
      /* Between frames: wall time passes and this thread works elsewhere. */
      g_usleep (2000);
      spin (5000000);
      spun += clock_ns (CLOCK_THREAD_CPUTIME_ID) - t1;
    }
  g_test_message ("decode: counted %.2f ms, measured around the calls %.2f ms, between %.2f ms",
                  confab_video_decoder_get_cpu_ns (decoder) / 1e6, inside / 1e6, spun / 1e6);
  g_assert_cmpuint (confab_video_decoder_get_cpu_ns (decoder), >, 0);
  /* Counted within the caller's own measurement (which adds two clock reads). */
  g_assert_cmpint ((gint64) confab_video_decoder_get_cpu_ns (decoder), <=, inside);
  g_assert_cmpint ((gint64) confab_video_decoder_get_cpu_ns (decoder), >=, inside * 8 / 10);
  /* More burnt between calls (200 ms) than inside them: had it been counted, the checks above fail.
   */
  g_assert_cmpint (spun, >, 2 * inside);
  g_assert_cmpuint (confab_codec_cpu_get_process_ns (CONFAB_CODEC_CPU_VIDEO_DECODE) -
                        process_before,
                    ==, confab_video_decoder_get_cpu_ns (decoder));
}

/* A multi-threaded encoder's workers run while the caller waits in the encode
 * call: their CPU is counted, so the count matches the whole process's CPU
 * inside the calls, not just the calling thread's. */
static void
encoder_counts_workers (ConfabVideoCodec codec, int width, int height, guint n_frames)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder = NULL;
  g_autoptr (GPtrArray) frames = NULL;
  /* Before the encoder: x264's threads start (and count) when it opens. */
  guint64 process_before = confab_codec_cpu_get_process_ns (CONFAB_CODEC_CPU_VIDEO_ENCODE);
  gint64 process_ns, thread_ns, counted;

  encoder = confab_video_encoder_new (codec, width, height, 30, 0, 2, &error);
  g_assert_no_error (error);
  frames = encode (encoder, width, height, n_frames, &process_ns, &thread_ns);
  counted = (gint64) confab_video_encoder_get_cpu_ns (encoder);
  g_test_message ("%s %dx%d, 2 threads: counted %.1f ms, process inside the calls %.1f ms, "
                  "calling thread %.1f ms",
                  confab_video_codec_to_string (codec), width, height, counted / 1e6,
                  process_ns / 1e6, thread_ns / 1e6);
  g_assert_cmpint (counted, >=, process_ns * 9 / 10);
  g_assert_cmpint (counted, <=, process_ns * 11 / 10);
  g_assert_cmpuint (confab_codec_cpu_get_process_ns (CONFAB_CODEC_CPU_VIDEO_ENCODE) -
                        process_before,
                    ==, counted);
}

static void
test_vp9_encoder_workers (void)
{
  encoder_counts_workers (CONFAB_VIDEO_CODEC_VP9, 1280, 720, 90);
}

static void
test_vp8_encoder_workers (void)
{
  /* VP8's threads spin on each other's rows (confab-video-encoder.c): costly,
   * so fewer, smaller frames. */
  encoder_counts_workers (CONFAB_VIDEO_CODEC_VP8, 640, 360, 10);
}

static void
test_h264_encoder_workers (void)
{
  encoder_counts_workers (CONFAB_VIDEO_CODEC_H264, 1280, 720, 90);
}

/* Opus encode, decode and concealment all count, in their own kinds. */
static void
test_opus (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabAudioEncoder) encoder = confab_audio_encoder_new (0, &error);
  g_autoptr (ConfabAudioDecoder) decoder = confab_audio_decoder_new (&error);
  g_autoptr (ConfabToneSource) tone = confab_tone_source_new (440, CONFAB_AUDIO_SAMPLE_RATE, 0.3);
  guint64 enc_before = confab_codec_cpu_get_process_ns (CONFAB_CODEC_CPU_AUDIO_ENCODE);
  guint64 dec_before = confab_codec_cpu_get_process_ns (CONFAB_CODEC_CPU_AUDIO_DECODE);
  guint64 total_before = confab_codec_cpu_get_process_total_ns ();
  guint64 after_decode;

  g_assert_no_error (error);
  for (int i = 0; i < 50; i++)
    {
      gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
      guint8 packet[CONFAB_AUDIO_MAX_PACKET];
      gssize len;

      confab_tone_source_fill (tone, pcm, CONFAB_AUDIO_FRAME_SAMPLES);
      len = confab_audio_encoder_encode (encoder, pcm, packet, sizeof packet, &error);
      g_assert_no_error (error);
      g_assert_cmpint (len, >, 0);
      g_assert_true (confab_audio_decoder_decode (decoder, packet, len, pcm, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (confab_audio_encoder_get_cpu_ns (encoder), >, 0);
  after_decode = confab_audio_decoder_get_cpu_ns (decoder);
  g_assert_cmpuint (after_decode, >, 0);
  for (int i = 0; i < 10; i++)
    {
      gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];

      g_assert_cmpint (confab_audio_decoder_conceal (decoder, NULL, 0, pcm), ==,
                       CONFAB_AUDIO_CONCEAL_PLC);
    }
  g_assert_cmpuint (confab_audio_decoder_get_cpu_ns (decoder), >, after_decode);
  g_assert_cmpuint (confab_codec_cpu_get_process_ns (CONFAB_CODEC_CPU_AUDIO_ENCODE) - enc_before,
                    ==, confab_audio_encoder_get_cpu_ns (encoder));
  g_assert_cmpuint (confab_codec_cpu_get_process_ns (CONFAB_CODEC_CPU_AUDIO_DECODE) - dec_before,
                    ==, confab_audio_decoder_get_cpu_ns (decoder));
  g_assert_cmpuint (confab_codec_cpu_get_process_total_ns () - total_before, ==,
                    confab_audio_encoder_get_cpu_ns (encoder) +
                        confab_audio_decoder_get_cpu_ns (decoder));
}

/* What counting costs: one thread-CPU clock read before and one after each
 * call (plus one per worker thread), against the cheapest codec call a client
 * makes, decoding a 20 ms Opus packet. */
static void
test_overhead (void)
{
  g_autoptr (ConfabAudioEncoder) encoder = confab_audio_encoder_new (0, NULL);
  g_autoptr (ConfabAudioDecoder) decoder = confab_audio_decoder_new (NULL);
  g_autoptr (ConfabToneSource) tone = confab_tone_source_new (440, CONFAB_AUDIO_SAMPLE_RATE, 0.3);
  const int n = 20000;
  gint64 t0, reads_ns, decode_ns;
  gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
  guint8 packet[CONFAB_AUDIO_MAX_PACKET];
  gssize len = 0;

  t0 = clock_ns (CLOCK_MONOTONIC);
  for (int i = 0; i < n; i++)
    clock_ns (CLOCK_THREAD_CPUTIME_ID);
  reads_ns = (clock_ns (CLOCK_MONOTONIC) - t0) / n;
  for (int i = 0; i < 10; i++)
    {
      confab_tone_source_fill (tone, pcm, CONFAB_AUDIO_FRAME_SAMPLES);
      len = confab_audio_encoder_encode (encoder, pcm, packet, sizeof packet, NULL);
    }
  g_assert_cmpint (len, >, 0);
  t0 = clock_ns (CLOCK_THREAD_CPUTIME_ID);
  for (int i = 0; i < 2000; i++)
    g_assert_true (confab_audio_decoder_decode (decoder, packet, len, pcm, NULL));
  decode_ns = (clock_ns (CLOCK_THREAD_CPUTIME_ID) - t0) / 2000;
  g_test_message ("CLOCK_THREAD_CPUTIME_ID read: %" G_GINT64_FORMAT " ns, two per codec call; "
                  "an Opus 20 ms decode: %" G_GINT64_FORMAT " ns",
                  reads_ns, decode_ns);
  /* A system call, not a page of work. */
  g_assert_cmpint (reads_ns, <, 20000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/media/codec-cpu/decoder-counts-calls-only", test_decoder_counts_calls_only);
  g_test_add_func ("/media/codec-cpu/vp9-encoder-workers", test_vp9_encoder_workers);
  g_test_add_func ("/media/codec-cpu/vp8-encoder-workers", test_vp8_encoder_workers);
  g_test_add_func ("/media/codec-cpu/h264-encoder-workers", test_h264_encoder_workers);
  g_test_add_func ("/media/codec-cpu/opus", test_opus);
  g_test_add_func ("/media/codec-cpu/overhead", test_overhead);
  return g_test_run ();
}
