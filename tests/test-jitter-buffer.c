/* test-jitter-buffer.c: the audio and video jitter buffers on a simulated
 * clock (no sleeping): real Opus packets from the real encoder go through a
 * simulated network (delay, jitter, reordering, duplication, seeded random
 * loss, bursts, stalls) and a playout clock pulls one frame every 20 ms. The
 * assertions are what a listener hears: a frame every 20 ms, little
 * concealment, bounded delay that grows with jitter and shrinks after it. */
#define G_LOG_DOMAIN "test-jitter-buffer"

#include "confab-audio-encoder.h"
#include "confab-audio-jitter-buffer.h"
#include "confab-test-source.h"
#include "confab-video-jitter-buffer.h"

#include <math.h>
#include <string.h>

#define MS 1000

typedef struct
{
  guint8 data[CONFAB_AUDIO_MAX_PACKET];
  gsize len;
} Packet;

typedef struct
{
  guint64 sequence;
  gint64 arrival_us;
  guint index; /* into the packets */
} Arrival;

/* Packet i is sent at i * 20 ms. The network decides what arrives when. */
typedef struct
{
  GArray *arrivals;
  GRand *rand;
  guint64 first_sequence;
} Network;

/* 3000 packets (60 s), made once, of a voice-like signal: two harmonics whose
 * pitch steps every 100 ms under a 4 Hz syllable envelope. (A steady sine is
 * not speech to Opus's VAD: after ~0.7 s it stops sending FEC for it.) */
static Packet *packets;
#define N_PACKETS 3000

static void
make_packets (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabAudioEncoder) encoder = confab_audio_encoder_new (0, &error);
  double phase = 0;
  guint with_fec = 0;

  g_assert_no_error (error);
  packets = g_new0 (Packet, N_PACKETS);
  for (guint i = 0; i < N_PACKETS; i++)
    {
      gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
      double freq = 180 + 40 * ((i / 5) % 5);
      gssize len;

      for (int s = 0; s < CONFAB_AUDIO_FRAME_SAMPLES; s++)
        {
          double t = (i * CONFAB_AUDIO_FRAME_SAMPLES + s) / 48000.0;
          double envelope = 0.55 + 0.45 * sin (2 * G_PI * 4 * t);

          pcm[s] = (gint16) (envelope * (8000 * sin (phase) + 4000 * sin (2 * phase) +
                                         2000 * sin (3.02 * phase)));
          phase += 2 * G_PI * freq / 48000;
        }
      len = confab_audio_encoder_encode (encoder, pcm, packets[i].data, sizeof packets[i].data,
                                         &error);
      g_assert_no_error (error);
      packets[i].len = (gsize) len;
      with_fec += confab_audio_packet_has_fec (packets[i].data, packets[i].len);
    }
  g_test_message ("%u of %u test packets carry FEC", with_fec, N_PACKETS);
  g_assert_cmpuint (with_fec, >=, N_PACKETS * 8 / 10);
}

static void
network_init (Network *net, guint32 seed)
{
  net->arrivals = g_array_new (FALSE, FALSE, sizeof (Arrival));
  net->rand = g_rand_new_with_seed (seed);
  net->first_sequence = 1000;
}

static void
network_clear (Network *net)
{
  g_array_unref (net->arrivals);
  g_rand_free (net->rand);
}

static void
deliver (Network *net, guint index, gint64 arrival_us)
{
  Arrival a = { net->first_sequence + index, arrival_us, index };
  g_array_append_val (net->arrivals, a);
}

static gint
by_arrival (gconstpointer a, gconstpointer b)
{
  const Arrival *x = a, *y = b;
  return x->arrival_us < y->arrival_us ? -1 : x->arrival_us > y->arrival_us;
}

typedef struct
{
  guint pulls;
  guint counts[4]; /* by ConfabAudioPlayout */
  guint silence_after_start;
  double max_level_ms;
  double max_target_ms;
  /* Playout time and the stream's time disagree: the played sequence jumped
   * by more than the frames its pulls, an accelerate and preceding stalls
   * account for, or a pull played audio without moving (other than a stall
   * or preemptive expand). */
  guint bad_steps;
  double *level_ms; /* per pull */
  double *target_ms;
  ConfabAudioJitterStats stats;
} Result;

static void
result_clear (Result *r)
{
  g_free (r->level_ms);
  g_free (r->target_ms);
}

/* Pulls every 20 ms (7 ms after the sender's grid) for @n_pulls. */
static void
run_full (Network *net, guint n_pulls, gboolean stop_when_drained, Result *r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabAudioJitterBuffer) jb = confab_audio_jitter_buffer_new (&error);
  guint next_arrival = 0;
  gboolean started = FALSE;
  guint64 last_sequence = 0, last_accelerate = 0, last_preemptive = 0;
  guint not_moved = 0;

  g_assert_no_error (error);
  memset (r, 0, sizeof *r);
  r->level_ms = g_new0 (double, n_pulls);
  r->target_ms = g_new0 (double, n_pulls);
  g_array_sort (net->arrivals, by_arrival); /* stable enough: ties keep no order we rely on */

  for (guint k = 0; k < n_pulls; k++)
    {
      gint64 now = (gint64) k * 20 * MS + 7 * MS;
      gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
      ConfabAudioPlayout how;
      ConfabAudioJitterStats stats;

      while (next_arrival < net->arrivals->len &&
             g_array_index (net->arrivals, Arrival, next_arrival).arrival_us <= now)
        {
          Arrival *a = &g_array_index (net->arrivals, Arrival, next_arrival++);
          confab_audio_jitter_buffer_push (jb, a->sequence, packets[a->index].data,
                                           packets[a->index].len, a->arrival_us);
        }
      memset (pcm, 0x7f, sizeof pcm);
      how = confab_audio_jitter_buffer_pull (jb, now, pcm);
      /* Always a whole frame: the 0x7f7f canary is gone from the last sample
       * (a tone or PLC never holds exactly 32639 there, silence is 0). */
      g_assert_cmpint (pcm[CONFAB_AUDIO_FRAME_SAMPLES - 1], !=, 0x7f7f);
      r->counts[how]++;
      r->pulls++;
      if (how != CONFAB_AUDIO_PLAYOUT_SILENCE)
        started = TRUE;
      else if (started)
        r->silence_after_start++;

      confab_audio_jitter_buffer_get_stats (jb, &stats);
      if (last_sequence != 0 && how != CONFAB_AUDIO_PLAYOUT_SILENCE)
        {
          guint64 step = stats.last_sequence - last_sequence;
          guint64 allowed = 1 + not_moved + (stats.accelerate_count - last_accelerate);

          if (step == 0)
            {
              /* Only a stall (PLC, the due packet not here) or a preemptive
               * expand may hold the stream still. */
              if (how != CONFAB_AUDIO_PLAYOUT_PLC)
                r->bad_steps++;
              not_moved++;
            }
          else
            {
              if (step > allowed)
                r->bad_steps++;
              not_moved = 0;
            }
        }
      last_sequence = stats.last_sequence;
      last_accelerate = stats.accelerate_count;
      last_preemptive = stats.preemptive_expand_count;
      (void) last_preemptive;
      if (g_getenv ("CONFAB_TEST_TRACE") != NULL)
        g_printerr ("pull %u how %d seq %" G_GUINT64_FORMAT " level %.0f target %.0f\n", k, how,
                    stats.last_sequence, stats.current_buffer_ms, stats.target_delay_ms);
      r->level_ms[k] = stats.current_buffer_ms;
      r->target_ms[k] = stats.target_delay_ms;
      r->max_level_ms = MAX (r->max_level_ms, stats.current_buffer_ms);
      r->max_target_ms = MAX (r->max_target_ms, stats.target_delay_ms);
      /* Stop once everything sent has been played: what a buffer does after
       * the sender stops is the pause test's business. */
      if (next_arrival == net->arrivals->len && stats.packets_awaiting_decode == 0 &&
          stop_when_drained)
        break;
    }
  confab_audio_jitter_buffer_get_stats (jb, &r->stats);
  g_test_message (
      "pulls %u: normal %u fec %u plc %u silence %u (after start %u); accelerate %" G_GUINT64_FORMAT
      " preemptive %" G_GUINT64_FORMAT " late %" G_GUINT64_FORMAT " dup %" G_GUINT64_FORMAT
      " resets %" G_GUINT64_FORMAT "; max level %.0f ms, max target %.0f ms, end level %.0f "
      "ms target %.0f ms",
      r->pulls, r->counts[0], r->counts[1], r->counts[2], r->counts[3], r->silence_after_start,
      r->stats.accelerate_count, r->stats.preemptive_expand_count, r->stats.late_packets,
      r->stats.duplicate_packets, r->stats.resets, r->max_level_ms, r->max_target_ms,
      r->stats.current_buffer_ms, r->stats.target_delay_ms);
}

static void
run (Network *net, guint n_pulls, Result *r)
{
  run_full (net, n_pulls, TRUE, r);
}

static double
mean_level (const Result *r, guint from, guint to)
{
  double sum = 0;
  for (guint k = from; k < to; k++)
    sum += r->level_ms[k];
  return sum / (to - from);
}

static void
test_audio_clean (void)
{
  Network net;
  Result r;

  network_init (&net, 1);
  for (guint i = 0; i < 500; i++)
    deliver (&net, i, i * 20 * MS + 30 * MS);
  run (&net, 520, &r);

  /* Starts within 60 ms, then every packet plays, in order, once. */
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_SILENCE], <=, 3);
  g_assert_cmpuint (r.silence_after_start, ==, 0);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_NORMAL], ==, 500);
  g_assert_cmpuint (r.stats.plc_frames, ==, 0);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_PLC], ==, r.stats.preemptive_expand_count);
  g_assert_cmpuint (r.stats.preemptive_expand_count, <=, 1);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_FEC], ==, 0);
  g_assert_cmpuint (r.stats.accelerate_count, ==, 0);
  g_assert_cmpuint (r.bad_steps, ==, 0);
  g_assert_cmpfloat (r.max_target_ms, ==, CONFAB_AUDIO_JITTER_MIN_DELAY_MS);
  g_assert_cmpfloat (r.max_level_ms, <=, 40);
  result_clear (&r);
  network_clear (&net);
}

static void
test_audio_reordering (void)
{
  Network net;
  Result r;
  guint swapped = 0;

  network_init (&net, 2);
  for (guint i = 0; i < 1000; i++)
    {
      /* Every 10th packet overtaken by the next one (30 ms late). */
      gint64 extra = i % 10 == 3 ? 30 * MS : 0;
      swapped += extra > 0;
      deliver (&net, i, i * 20 * MS + 30 * MS + extra);
    }
  run (&net, 1010, &r);

  /* The first swaps may cost a frame until the delay has grown; then none. */
  g_assert_cmpuint (r.stats.late_packets, <=, 2);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_NORMAL], >=, 1000 - 2);
  g_assert_cmpfloat (r.max_target_ms, >=, 60);
  g_assert_cmpfloat (r.max_level_ms, <=, 120);
  g_assert_cmpuint (r.bad_steps, ==, 0);
  result_clear (&r);
  network_clear (&net);
}

static void
test_audio_duplicates (void)
{
  Network net;
  Result r;
  guint dups = 0;

  network_init (&net, 3);
  for (guint i = 0; i < 1000; i++)
    {
      deliver (&net, i, i * 20 * MS + 30 * MS);
      if (g_rand_int_range (net.rand, 0, 100) < 30)
        {
          /* A copy up to 200 ms later (a retransmitting path, a relay failover). */
          deliver (&net, i, i * 20 * MS + 30 * MS + g_rand_int_range (net.rand, 0, 200) * MS);
          dups++;
        }
    }
  run (&net, 1010, &r);

  g_assert_cmpuint (r.stats.duplicate_packets, ==, dups);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_NORMAL], ==, 1000);
  g_assert_cmpuint (r.stats.late_packets, ==, 0);
  /* Duplicates are no evidence of jitter: the delay stays at its floor. */
  g_assert_cmpfloat (r.max_target_ms, ==, CONFAB_AUDIO_JITTER_MIN_DELAY_MS);
  g_assert_cmpuint (r.bad_steps, ==, 0);
  result_clear (&r);
  network_clear (&net);
}

static void
test_audio_random_loss (void)
{
  Network net;
  Result r;
  guint lost = 0;

  network_init (&net, 4);
  for (guint i = 0; i < N_PACKETS; i++)
    {
      if (i > 10 && g_rand_int_range (net.rand, 0, 100) < 10)
        {
          lost++;
          continue;
        }
      /* 0-15 ms of jitter on top of 30 ms. */
      deliver (&net, i, i * 20 * MS + 30 * MS + g_rand_int_range (net.rand, 0, 15) * MS);
    }
  run (&net, N_PACKETS + 10, &r);

  g_test_message ("lost %u of %u", lost, N_PACKETS);
  /* Every lost frame concealed, most from FEC; nothing else lost. */
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_NORMAL], >=, N_PACKETS - lost - 5);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_FEC] + r.counts[CONFAB_AUDIO_PLAYOUT_PLC], >=,
                    lost);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_FEC] + r.counts[CONFAB_AUDIO_PLAYOUT_PLC], <=,
                    lost + 20);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_FEC], >=, lost * 6 / 10);
  g_assert_cmpuint (r.silence_after_start, ==, 0);
  g_assert_cmpfloat (r.stats.concealed_ms, ==, 20.0 * (r.stats.fec_frames + r.stats.plc_frames));
  /* Bounded: loss is no reason for delay. */
  g_assert_cmpfloat (r.max_level_ms, <=, 100);
  g_assert_cmpfloat (mean_level (&r, 100, N_PACKETS), <=, 70);
  g_assert_cmpuint (r.bad_steps, ==, 0);
  result_clear (&r);
  network_clear (&net);
}

static void
test_audio_bursts (void)
{
  Network net;
  Result r;
  guint lost = 0;

  network_init (&net, 5);
  for (guint i = 0; i < 1500; i++)
    {
      /* Five bursts of 8 lost packets (160 ms), 5 s apart. */
      if (i % 250 >= 100 && i % 250 < 108 && i < 1250)
        {
          lost++;
          continue;
        }
      deliver (&net, i, i * 20 * MS + 30 * MS);
    }
  run (&net, 1510, &r);

  g_assert_cmpuint (lost, ==, 40);
  /* Each burst is concealed frame for frame and does not leave extra delay. */
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_NORMAL], >=, 1500 - lost - 2);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_FEC] + r.counts[CONFAB_AUDIO_PLAYOUT_PLC], >=,
                    lost);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_FEC] + r.counts[CONFAB_AUDIO_PLAYOUT_PLC], <=,
                    lost + 10);
  g_assert_cmpuint (r.stats.late_packets, ==, 0);
  g_assert_cmpfloat (mean_level (&r, 1300, 1500), <=, 60);
  g_assert_cmpuint (r.stats.resets, ==, 0);
  result_clear (&r);
  network_clear (&net);
}

static void
test_audio_jitter_spikes (void)
{
  Network net;
  Result r;
  guint late_in_spikes;

  network_init (&net, 6);
  for (guint i = 0; i < N_PACKETS; i++)
    {
      gint64 sent = (gint64) i * 20 * MS;
      gint64 arrival = sent + 30 * MS + g_rand_int_range (net.rand, 0, 5) * MS;

      /* 10-20 s: every 2 s the path stalls for 250 ms and then delivers
       * everything it held at once (a Wi-Fi scan, a congested uplink). */
      if (sent >= 10 * G_USEC_PER_SEC && sent < 20 * G_USEC_PER_SEC)
        {
          gint64 phase = sent % (2 * G_USEC_PER_SEC);
          if (phase < 250 * MS)
            arrival = MAX (arrival, sent - phase + 250 * MS + 30 * MS);
        }
      deliver (&net, i, arrival);
    }
  run (&net, N_PACKETS + 10, &r);
  late_in_spikes = (guint) r.stats.late_packets;

  /* Grows fast. The first stall costs and is forgotten (it could have been
   * the only one); the second, within 5 s, marks them as recurring, and the
   * later ones find the delay ready. */
  g_assert_cmpfloat (r.max_target_ms, >=, 240);
  g_assert_cmpfloat (r.max_target_ms, <=, CONFAB_AUDIO_JITTER_MAX_DELAY_MS);
  g_assert_cmpuint (r.stats.fec_frames + r.stats.plc_frames, <=, 2 * 13);
  g_assert_cmpfloat (r.target_ms[950], >=, 240); /* 19 s, 1 s after the last stall began */
  g_assert_cmpuint (late_in_spikes, <=, 15);
  /* Nothing was lost: every frame not dropped to shrink the delay played. */
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_NORMAL] + r.stats.accelerate_count, ==,
                    N_PACKETS);
  g_assert_cmpuint (r.silence_after_start, <=, 5);
  /* Holds while the spikes go on (18-20 s: level still high)... */
  g_assert_cmpfloat (mean_level (&r, 900, 1000), >=, 150);
  /* ...for 10 s after the last one, then shrinks within a few seconds. */
  g_assert_cmpfloat (r.level_ms[1100], >=, 150);
  g_assert_cmpfloat (r.target_ms[1500], ==, CONFAB_AUDIO_JITTER_MIN_DELAY_MS);
  g_assert_cmpfloat (mean_level (&r, 1550, 2990), <=, 70);
  g_assert_cmpfloat (r.target_ms[2990], ==, CONFAB_AUDIO_JITTER_MIN_DELAY_MS);
  g_assert_cmpfloat (r.max_level_ms, <=, CONFAB_AUDIO_JITTER_MAX_DELAY_MS + 60);
  g_assert_cmpuint (r.bad_steps, ==, 0);
  g_test_message ("spike target reached %.0f ms; level at 22 s %.0f ms, 30 s %.0f ms, 40 s "
                  "%.0f ms, 59 s %.0f ms",
                  r.max_target_ms, r.level_ms[1100], r.level_ms[1500], r.level_ms[2000],
                  r.level_ms[2950]);
  result_clear (&r);
  network_clear (&net);
}

/* One 400 ms stall in an otherwise steady stream (the path froze, then
 * delivered what it held at once). It was probably the only one: within 3 s
 * the target and the buffered audio are back near the floor, instead of half
 * a second of delay for the next 15 s. */
static void
test_audio_single_stall (void)
{
  Network net;
  Result r;
  const guint stall_at = 250; /* 5 s */

  network_init (&net, 9);
  for (guint i = 0; i < 750; i++)
    {
      gint64 sent = (gint64) i * 20 * MS;
      gint64 arrival = sent + 30 * MS + g_rand_int_range (net.rand, 0, 5) * MS;

      if (i >= stall_at && sent < stall_at * 20 * MS + 400 * MS)
        arrival = MAX (arrival, stall_at * 20 * MS + 400 * MS + 30 * MS);
      deliver (&net, i, arrival);
    }
  run (&net, 760, &r);

  /* The stall itself is heard (nothing to play for 400 ms), and grows the
   * delay; nothing sent is lost. */
  g_assert_cmpfloat (r.max_target_ms, >=, 200);
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_NORMAL] + r.stats.accelerate_count, ==, 750);
  g_assert_cmpuint (r.stats.late_packets, ==, 0);
  g_assert_cmpuint (r.bad_steps, ==, 0);
  /* 3 s after the stall ended (pull 271 + 150): target and level low again,
   * and they stay there. */
  for (guint k = stall_at + 21 + 150; k < 740; k++)
    {
      g_assert_cmpfloat (r.target_ms[k], <=, 60);
      g_assert_cmpfloat (r.level_ms[k], <=, 80);
    }
  g_test_message ("after the stall: target %.0f / level %.0f ms at +0.5 s, %.0f / %.0f at +1 s, "
                  "%.0f / %.0f at +2 s, %.0f / %.0f at +3 s",
                  r.target_ms[stall_at + 46], r.level_ms[stall_at + 46], r.target_ms[stall_at + 71],
                  r.level_ms[stall_at + 71], r.target_ms[stall_at + 121],
                  r.level_ms[stall_at + 121], r.target_ms[stall_at + 171],
                  r.level_ms[stall_at + 171]);
  result_clear (&r);
  network_clear (&net);
}

/* Sustained jitter of +-60 ms (every packet's delay drawn anew): the target
 * must follow it up and stay there, so hardly anything is concealed. */
static void
test_audio_sustained_jitter (void)
{
  Network net;
  Result r;

  network_init (&net, 10);
  for (guint i = 0; i < N_PACKETS; i++)
    deliver (&net, i, (gint64) i * 20 * MS + 90 * MS + g_rand_int_range (net.rand, -60, 61) * MS);
  run (&net, N_PACKETS + 20, &r);

  /* Under 2 % concealed, nothing lost but what the first seconds cost. */
  g_assert_cmpuint (r.stats.fec_frames + r.stats.plc_frames, <=, N_PACKETS * 2 / 100);
  g_assert_cmpuint (r.stats.late_packets, <=, N_PACKETS * 2 / 100);
  g_assert_cmpuint (r.silence_after_start, ==, 0);
  /* The delay covers the jitter all along, and no more than needed. */
  for (guint k = 500; k < N_PACKETS - 10; k++)
    g_assert_cmpfloat (r.target_ms[k], >=, 100);
  g_assert_cmpfloat (mean_level (&r, 500, N_PACKETS - 10), <=, 200);
  g_assert_cmpuint (r.bad_steps, ==, 0);
  g_test_message ("concealed %" G_GUINT64_FORMAT " late %" G_GUINT64_FORMAT
                  " of %u; mean level %.0f ms",
                  r.stats.fec_frames + r.stats.plc_frames, r.stats.late_packets, N_PACKETS,
                  mean_level (&r, 500, N_PACKETS - 10));
  result_clear (&r);
  network_clear (&net);
}

static void
clock_drift (double sender_frame_ms)
{
  Network net;
  Result r;

  /* The sender's sound card runs off the receiver's clock: its 20 ms are
   * @sender_frame_ms of ours. Over 60 s that is 3 frames of surplus or
   * deficit, which the buffer must absorb without growing or starving. */
  network_init (&net, 8);
  for (guint i = 0; i < N_PACKETS; i++)
    deliver (&net, i, (gint64) (i * sender_frame_ms * MS) + 30 * MS);
  run (&net, N_PACKETS + 20, &r);

  g_assert_cmpuint (r.stats.late_packets, ==, 0);
  g_assert_cmpuint (r.silence_after_start, ==, 0);
  g_assert_cmpuint (r.stats.plc_frames + r.stats.fec_frames, <=, 2);
  g_assert_cmpfloat (r.max_level_ms, <=, 80);
  g_assert_cmpfloat (mean_level (&r, 2500, 2900), <=, 60);
  if (sender_frame_ms < 20)
    g_assert_cmpuint (r.stats.accelerate_count, >=, 1); /* 3 frames, 2 within the hysteresis */
  else
    g_assert_cmpuint (r.stats.preemptive_expand_count, >=, 2); /* start-up and drift */
  g_assert_cmpuint (r.bad_steps, ==, 0);
  result_clear (&r);
  network_clear (&net);
}

static void
test_audio_fast_sender (void)
{
  clock_drift (19.98);
}

static void
test_audio_slow_sender (void)
{
  clock_drift (20.02);
}

static void
test_audio_pause_and_restart (void)
{
  Network net;
  Result r;

  network_init (&net, 7);
  /* 0-4 s talk; 4-7 s nothing (muted: no packets, numbering goes on);
   * 7-10 s talk; then the sender restarts (numbering from 0) at 10 s. */
  for (guint i = 0; i < 500; i++)
    {
      if (i >= 200 && i < 350)
        continue;
      deliver (&net, i, i * 20 * MS + 30 * MS);
    }
  net.first_sequence = 0;
  for (guint i = 500; i < 700; i++)
    {
      Arrival a = { i - 500, i * 20 * MS + 30 * MS, i };
      g_array_append_val (net.arrivals, a);
    }
  run_full (&net, 710, FALSE, &r);

  /* Silence (not endless PLC) while paused, and audio again after each gap. */
  g_assert_cmpuint (r.counts[CONFAB_AUDIO_PLAYOUT_NORMAL], >=, 200 + 150 + 200 - 6);
  /* At most 200 ms of PLC when the pause starts and when the stream ends. */
  g_assert_cmpuint (r.stats.plc_frames, <=, 2 * 10);
  g_assert_cmpuint (r.silence_after_start, >=, 150 - 12);
  g_assert_cmpuint (r.stats.resets, ==, 2);
  result_clear (&r);
  network_clear (&net);
}

static void
test_audio_bad_input (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabAudioJitterBuffer) jb = confab_audio_jitter_buffer_new (&error);
  ConfabAudioJitterStats stats;
  gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
  guint8 junk[2000];

  memset (junk, 0xa5, sizeof junk);
  g_assert_false (confab_audio_jitter_buffer_push (jb, 1, junk, 0, 0));
  g_assert_false (confab_audio_jitter_buffer_push (jb, 1, NULL, 10, 0));
  g_assert_false (confab_audio_jitter_buffer_push (jb, 1, junk, sizeof junk, 0));
  g_assert_cmpint (confab_audio_jitter_buffer_pull (jb, 0, pcm), ==, CONFAB_AUDIO_PLAYOUT_SILENCE);
  /* Undecodable packets and absurd sequences: concealed or reset, never a crash. */
  for (guint i = 0; i < 200; i++)
    {
      guint64 seq = i % 7 == 0 ? G_MAXUINT64 - i : i * 3;
      confab_audio_jitter_buffer_push (jb, seq, junk, 1 + i % 300, i * 20 * MS);
      confab_audio_jitter_buffer_pull (jb, i * 20 * MS + 7 * MS, pcm);
    }
  confab_audio_jitter_buffer_get_stats (jb, &stats);
  g_assert_cmpuint (stats.invalid_packets, >=, 3);
  g_assert_cmpuint (stats.packets_awaiting_decode, <=, 64);
  /* A packet 1 s too late is dropped, not played. */
  {
    g_autoptr (ConfabAudioJitterBuffer) fresh = confab_audio_jitter_buffer_new (&error);
    for (guint k = 0; k < 100; k++)
      {
        if (k != 20)
          confab_audio_jitter_buffer_push (fresh, k, packets[k].data, packets[k].len, k * 20 * MS);
        confab_audio_jitter_buffer_pull (fresh, k * 20 * MS + 7 * MS, pcm);
      }
    g_assert_false (confab_audio_jitter_buffer_push (fresh, 20, packets[20].data, packets[20].len,
                                                     100 * 20 * MS));
    confab_audio_jitter_buffer_get_stats (fresh, &stats);
    g_assert_cmpuint (stats.late_packets, ==, 1);
    g_assert_cmpuint (stats.normal_frames + stats.packets_awaiting_decode, ==, 99);
  }
}

/* What the jitter buffer costs on top of decoding: 60 s of audio with 10 %
 * loss and jitter through it, against decoding the same packets directly. */
static void
test_audio_speed (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabAudioDecoder) decoder = confab_audio_decoder_new (&error);
  g_autoptr (ConfabAudioJitterBuffer) jb = confab_audio_jitter_buffer_new (&error);
  GRand *rand = g_rand_new_with_seed (11);
  gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
  gint64 t0, plain_us, buffered_us;

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < N_PACKETS; i++)
    g_assert_true (
        confab_audio_decoder_decode (decoder, packets[i].data, packets[i].len, pcm, &error));
  plain_us = g_get_monotonic_time () - t0;

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < N_PACKETS; i++)
    {
      gint64 now = (gint64) i * 20 * MS;
      if (g_rand_int_range (rand, 0, 100) >= 10)
        confab_audio_jitter_buffer_push (jb, i, packets[i].data, packets[i].len,
                                         now + g_rand_int_range (rand, 0, 15) * MS);
      confab_audio_jitter_buffer_pull (jb, now + 30 * MS, pcm);
    }
  buffered_us = g_get_monotonic_time () - t0;
  g_rand_free (rand);
  g_test_minimized_result ((double) buffered_us / N_PACKETS / 1e6,
                           "audio: decode %.1f us per 20 ms frame; through the jitter buffer "
                           "(10 %% loss) %.1f us",
                           (double) plain_us / N_PACKETS, (double) buffered_us / N_PACKETS);
}

/* ---- video ----------------------------------------------------------------- */

#define FRAME_INTERVAL_US 33333

typedef struct
{
  guint64 sequence;
  gboolean is_key;
  gint64 arrival_us;
} VideoArrival;

typedef struct
{
  GArray *released;   /* guint64 sequences in release order */
  GArray *requests;   /* gint64 times of keyframe requests */
  gint64 max_hold_us; /* longest time a released frame sat in the buffer */
  ConfabVideoJitterStats stats;
} VideoResult;

static gint
by_video_arrival (gconstpointer a, gconstpointer b)
{
  const VideoArrival *x = a, *y = b;
  return x->arrival_us < y->arrival_us ? -1 : x->arrival_us > y->arrival_us;
}

/* Steps a simulated clock in 1 ms ticks: pushes what arrived, pops what is
 * ready (as a receiver woken by packets and by the buffer's deadline would),
 * and asks for key frames as the call's timer would. @fail_at: sequences the
 * "decoder" refuses. */
static void
run_video (GArray *arrivals, gint64 until_us, const guint64 *fail_at, VideoResult *r)
{
  g_autoptr (ConfabVideoJitterBuffer) jb = confab_video_jitter_buffer_new ();
  g_autoptr (GBytes) payload = g_bytes_new_static ("frame", 5);
  guint next = 0;

  memset (r, 0, sizeof *r);
  r->released = g_array_new (FALSE, FALSE, sizeof (guint64));
  r->requests = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_array_sort (arrivals, by_video_arrival);
  for (gint64 now = 0; now <= until_us; now += 1000)
    {
      ConfabVideoJitterFrame frame;

      while (next < arrivals->len && g_array_index (arrivals, VideoArrival, next).arrival_us <= now)
        {
          VideoArrival *a = &g_array_index (arrivals, VideoArrival, next++);
          confab_video_jitter_buffer_push (jb, a->sequence, a->is_key, payload,
                                           (gint64) a->sequence * FRAME_INTERVAL_US, a->arrival_us);
        }
      while (confab_video_jitter_buffer_pop (jb, now, &frame))
        {
          g_assert_nonnull (frame.data);
          g_array_append_val (r->released, frame.sequence);
          r->max_hold_us = MAX (r->max_hold_us, now - frame.arrival_us);
          for (const guint64 *f = fail_at; f != NULL && *f != 0; f++)
            if (*f == frame.sequence)
              confab_video_jitter_buffer_decode_failed (jb, now);
          confab_video_jitter_frame_clear (&frame);
        }
      if (confab_video_jitter_buffer_take_keyframe_request (jb, now))
        g_array_append_val (r->requests, now);
    }
  confab_video_jitter_buffer_get_stats (jb, &r->stats);
  g_assert_cmpuint (r->stats.frames_buffered, <=, CONFAB_VIDEO_JITTER_SLOTS);
}

static void
video_result_clear (VideoResult *r)
{
  g_array_unref (r->released);
  g_array_unref (r->requests);
}

static void
send_video (GArray *arrivals, guint64 sequence, guint key_every, gint64 extra_delay_us)
{
  VideoArrival a = { sequence, (sequence - 1) % key_every == 0,
                     (gint64) sequence * FRAME_INTERVAL_US + 20 * MS + extra_delay_us };
  g_array_append_val (arrivals, a);
}

/* Released sequences strictly increase (never a frame twice or backwards). */
static void
assert_in_order (const VideoResult *r)
{
  for (guint i = 1; i < r->released->len; i++)
    g_assert_cmpuint (g_array_index (r->released, guint64, i), >,
                      g_array_index (r->released, guint64, i - 1));
}

static gboolean
was_released (const VideoResult *r, guint64 sequence)
{
  for (guint i = 0; i < r->released->len; i++)
    if (g_array_index (r->released, guint64, i) == sequence)
      return TRUE;
  return FALSE;
}

static void
test_video_in_order (void)
{
  g_autoptr (GArray) arrivals = g_array_new (FALSE, FALSE, sizeof (VideoArrival));
  VideoResult r;

  for (guint64 s = 1; s <= 300; s++)
    send_video (arrivals, s, 150, 0);
  run_video (arrivals, 11 * G_USEC_PER_SEC, NULL, &r);
  g_assert_cmpuint (r.released->len, ==, 300);
  assert_in_order (&r);
  g_assert_cmpint (r.max_hold_us, <, 1000); /* released the tick it arrives */
  g_assert_cmpuint (r.requests->len, ==, 0);
  g_assert_cmpuint (r.stats.gaps, ==, 0);
  video_result_clear (&r);
}

static void
test_video_reordering (void)
{
  g_autoptr (GArray) arrivals = g_array_new (FALSE, FALSE, sizeof (VideoArrival));
  VideoResult r;

  /* Every 10th frame overtaken by the next (one WebTransport stream slower
   * than another): held back briefly, nothing lost, nothing asked for. */
  for (guint64 s = 1; s <= 300; s++)
    send_video (arrivals, s, 150, s % 10 == 5 ? 15 * MS + FRAME_INTERVAL_US : 0);
  run_video (arrivals, 11 * G_USEC_PER_SEC, NULL, &r);
  g_assert_cmpuint (r.released->len, ==, 300);
  assert_in_order (&r);
  g_assert_cmpuint (r.stats.gaps, ==, 0);
  g_assert_cmpuint (r.requests->len, ==, 0);
  g_assert_cmpint (r.max_hold_us, <=, 16 * MS);
  video_result_clear (&r);
}

static void
test_video_loss_waits_for_key (void)
{
  g_autoptr (GArray) arrivals = g_array_new (FALSE, FALSE, sizeof (VideoArrival));
  VideoResult r;
  gint64 lost_due;

  /* Key frames every 150 frames (5 s): 1, 151. Frame 20 is lost. */
  for (guint64 s = 1; s <= 200; s++)
    if (s != 20)
      send_video (arrivals, s, 150, 0);
  run_video (arrivals, 8 * G_USEC_PER_SEC, NULL, &r);
  assert_in_order (&r);

  /* 1-19 play, 21-150 cannot (no reference), 151 on play again. */
  g_assert_cmpuint (r.released->len, ==, 19 + 50);
  g_assert_false (was_released (&r, 21));
  g_assert_false (was_released (&r, 150));
  g_assert_true (was_released (&r, 151));
  g_assert_cmpuint (r.stats.gaps, ==, 1);
  g_assert_cmpuint (r.stats.dropped_undecodable, ==, 130);
  /* Frames after a hole are held at most the reorder wait, never longer. */
  g_assert_cmpint (r.max_hold_us, <=, CONFAB_VIDEO_JITTER_REORDER_WAIT_US);

  /* Keyframe requests: 1 s after the loss was noticed, then every 500 ms, and
   * none once the key frame came (PROTOCOL.md §5). Frame 21 arrives at
   * 21 * 33.3 + 20 ms; the hole is given up 40 ms later or at 3 frames. */
  lost_due = 21 * FRAME_INTERVAL_US + 20 * MS;
  g_assert_cmpuint (r.requests->len, ==, 7); /* 1.8 s to 4.8 s; key 151 comes at 5.05 s */
  g_assert_cmpint (g_array_index (r.requests, gint64, 0), >=, lost_due + G_USEC_PER_SEC);
  g_assert_cmpint (g_array_index (r.requests, gint64, 0), <=,
                   lost_due + CONFAB_VIDEO_JITTER_REORDER_WAIT_US + G_USEC_PER_SEC + 1000);
  for (guint i = 1; i < r.requests->len; i++)
    g_assert_cmpint (g_array_index (r.requests, gint64, i) -
                         g_array_index (r.requests, gint64, i - 1),
                     ==, 500 * MS);
  g_assert_cmpint (g_array_index (r.requests, gint64, r.requests->len - 1), <,
                   151 * FRAME_INTERVAL_US + 20 * MS);
  video_result_clear (&r);
}

static void
test_video_key_after_loss_resumes_at_once (void)
{
  g_autoptr (GArray) arrivals = g_array_new (FALSE, FALSE, sizeof (VideoArrival));
  VideoResult r;

  /* The frame after the hole is a key frame: no waiting, no request. */
  for (guint64 s = 1; s <= 100; s++)
    if (s != 30)
      send_video (arrivals, s, 30, 0); /* keys at 1, 31, 61, 91 */
  run_video (arrivals, 4 * G_USEC_PER_SEC, NULL, &r);
  g_assert_cmpuint (r.released->len, ==, 99);
  g_assert_cmpuint (r.stats.gaps, ==, 1);
  g_assert_cmpuint (r.requests->len, ==, 0);
  video_result_clear (&r);
}

static void
test_video_late_and_duplicate (void)
{
  g_autoptr (GArray) arrivals = g_array_new (FALSE, FALSE, sizeof (VideoArrival));
  VideoResult r;

  for (guint64 s = 1; s <= 100; s++)
    {
      /* Frame 40 comes 300 ms late: everything after it already played, so
       * it is dropped, not shown out of order. Frames 60-69 arrive twice. */
      send_video (arrivals, s, 1000, s == 40 ? 300 * MS : 0);
      if (s >= 60 && s < 70)
        send_video (arrivals, s, 1000, 5 * MS);
    }
  run_video (arrivals, 4 * G_USEC_PER_SEC, NULL, &r);
  assert_in_order (&r);
  g_assert_false (was_released (&r, 40));
  g_assert_cmpuint (r.stats.dropped_late, ==, 1);
  g_assert_cmpuint (r.stats.dropped_duplicate, ==, 10);
  /* Only key frame 1: from 41 on nothing decodes, and requests go out. */
  g_assert_cmpuint (r.released->len, ==, 39);
  g_assert_true (r.stats.waiting_for_keyframe);
  g_assert_cmpuint (r.requests->len, >=, 1);
  video_result_clear (&r);
}

static void
test_video_joins_mid_stream (void)
{
  g_autoptr (GArray) arrivals = g_array_new (FALSE, FALSE, sizeof (VideoArrival));
  VideoResult r;

  /* We join at frame 50 of a stream with keys every 90 frames (1, 91). */
  for (guint64 s = 50; s <= 120; s++)
    send_video (arrivals, s, 90, 0);
  run_video (arrivals, 5 * G_USEC_PER_SEC, NULL, &r);
  g_assert_cmpuint (g_array_index (r.released, guint64, 0), ==, 91);
  g_assert_cmpuint (r.released->len, ==, 30);
  /* 50 arrives at 1.69 s, so a request goes at 2.69 s; the next would be
   * due at 3.19 s, but key frame 91 arrived at 3.05 s. */
  g_assert_cmpuint (r.requests->len, ==, 1);
  g_assert_cmpint (g_array_index (r.requests, gint64, 0), >=,
                   50 * FRAME_INTERVAL_US + 20 * MS + G_USEC_PER_SEC);
  g_assert_cmpint (g_array_index (r.requests, gint64, 0), <,
                   50 * FRAME_INTERVAL_US + 20 * MS + G_USEC_PER_SEC + 1000);
  video_result_clear (&r);
}

static void
test_video_decode_failure (void)
{
  g_autoptr (GArray) arrivals = g_array_new (FALSE, FALSE, sizeof (VideoArrival));
  const guint64 fail_at[] = { 10, 0 };
  VideoResult r;

  for (guint64 s = 1; s <= 100; s++)
    send_video (arrivals, s, 45, 0); /* keys 1, 46, 91 */
  run_video (arrivals, 4 * G_USEC_PER_SEC, fail_at, &r);
  /* 1-10 released (10 failed to decode), 11-45 dropped, 46 on released. */
  g_assert_cmpuint (r.released->len, ==, 10 + 55);
  g_assert_false (was_released (&r, 11));
  g_assert_true (was_released (&r, 46));
  g_assert_cmpuint (r.requests->len, ==, 1); /* 1 s after the failure, before key 46 */
  video_result_clear (&r);
}

static void
test_video_bounded (void)
{
  g_autoptr (ConfabVideoJitterBuffer) jb = confab_video_jitter_buffer_new ();
  g_autoptr (GBytes) payload = g_bytes_new_static ("x", 1);
  g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);
  ConfabVideoJitterStats stats;
  ConfabVideoJitterFrame frame;
  GRand *rand = g_rand_new_with_seed (99);

  /* Deltas only (no key ever comes): the buffer holds at most its slots. */
  for (guint64 s = 1; s <= 1000; s++)
    confab_video_jitter_buffer_push (jb, s, FALSE, payload, 0, (gint64) s * 1000);
  confab_video_jitter_buffer_get_stats (jb, &stats);
  g_assert_cmpuint (stats.frames_buffered, <=, CONFAB_VIDEO_JITTER_SLOTS);
  g_assert_false (confab_video_jitter_buffer_pop (jb, 2 * G_USEC_PER_SEC, &frame));

  /* Random sequences, keys, junk and empty frames: never a crash, never
   * more than the slots, never a frame out of order. */
  {
    guint64 last = 0;
    for (guint i = 0; i < 20000; i++)
      {
        guint64 seq = g_rand_int_range (rand, 0, 10) == 0
                          ? G_MAXUINT64 - g_rand_int_range (rand, 0, 100)
                          : 1000 + i / 2 + g_rand_int_range (rand, 0, 50);
        gboolean key = g_rand_int_range (rand, 0, 20) == 0;
        gint64 now = 2 * G_USEC_PER_SEC + (gint64) i * 1000;

        confab_video_jitter_buffer_push (jb, seq, key, i % 97 == 0 ? empty : payload, 0, now);
        if (i % 3 == 0)
          confab_video_jitter_buffer_decode_failed (jb, now);
        while (confab_video_jitter_buffer_pop (jb, now, &frame))
          {
            /* A sequence jump back to small numbers only after a key frame reset. */
            if (!frame.is_key)
              g_assert_cmpuint (frame.sequence, >, last);
            last = frame.sequence;
            confab_video_jitter_frame_clear (&frame);
          }
        confab_video_jitter_buffer_get_stats (jb, &stats);
        g_assert_cmpuint (stats.frames_buffered, <=, CONFAB_VIDEO_JITTER_SLOTS);
      }
  }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  make_packets ();
  g_test_add_func ("/media/audio-jitter/clean", test_audio_clean);
  g_test_add_func ("/media/audio-jitter/reordering", test_audio_reordering);
  g_test_add_func ("/media/audio-jitter/duplicates", test_audio_duplicates);
  g_test_add_func ("/media/audio-jitter/random-loss", test_audio_random_loss);
  g_test_add_func ("/media/audio-jitter/bursts", test_audio_bursts);
  g_test_add_func ("/media/audio-jitter/jitter-spikes", test_audio_jitter_spikes);
  g_test_add_func ("/media/audio-jitter/single-stall", test_audio_single_stall);
  g_test_add_func ("/media/audio-jitter/sustained-jitter", test_audio_sustained_jitter);
  g_test_add_func ("/media/audio-jitter/fast-sender", test_audio_fast_sender);
  g_test_add_func ("/media/audio-jitter/slow-sender", test_audio_slow_sender);
  g_test_add_func ("/media/audio-jitter/pause-and-restart", test_audio_pause_and_restart);
  g_test_add_func ("/media/audio-jitter/bad-input", test_audio_bad_input);
  g_test_add_func ("/media/video-jitter/in-order", test_video_in_order);
  g_test_add_func ("/media/video-jitter/reordering", test_video_reordering);
  g_test_add_func ("/media/video-jitter/loss-waits-for-key", test_video_loss_waits_for_key);
  g_test_add_func ("/media/video-jitter/key-after-loss", test_video_key_after_loss_resumes_at_once);
  g_test_add_func ("/media/video-jitter/late-and-duplicate", test_video_late_and_duplicate);
  g_test_add_func ("/media/video-jitter/joins-mid-stream", test_video_joins_mid_stream);
  g_test_add_func ("/media/video-jitter/decode-failure", test_video_decode_failure);
  g_test_add_func ("/media/video-jitter/bounded", test_video_bounded);
  if (g_test_perf ())
    g_test_add_func ("/media/audio-jitter/speed", test_audio_speed);
  ret = g_test_run ();
  g_free (packets);
  return ret;
}
