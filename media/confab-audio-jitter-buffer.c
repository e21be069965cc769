/* confab-audio-jitter-buffer.c: a small NetEQ.
 *
 * Packets sit in a ring indexed by sequence (64 slots, 1.28 s), copied in so
 * the network's buffers can go at once and nothing is allocated per packet.
 *
 * Delay estimate: each packet's transit (arrival minus its place on the
 * sender's 20 ms grid) is compared with the fastest transit of the last
 * 2.5 s; the excess is that packet's relative delay. It goes into a histogram
 * of 20 ms buckets that forgets 2.5 % per packet (about 1.5 s of memory), and
 * the target delay is its 95th percentile plus one frame. Sustained jitter
 * keeps filling the high buckets, so the target stays up; one stall's burst
 * is forgotten within ~1.5 s instead of holding the peak. Stalls that recur
 * (a second one within 5 s of the last) are remembered as a floor for 10 s
 * after the latest, so a path that stalls every few seconds keeps its delay.
 *
 * Playout: every pull plays the due sequence. A missing one is concealed
 * (FEC from the next packet when it is here, else PLC) when later packets show
 * it is lost; when nothing at all is buffered (a stall) PLC fills in without
 * moving on, so the delay grows by what the network took. The buffer level,
 * smoothed over ~8 pulls so one lost packet does not look like a short
 * buffer, is steered towards the target: above it by max (20 ms, half the
 * target), a frame is dropped (accelerate) at once when it is quiet (DTX or
 * low energy: nothing audible is lost), otherwise one frame in 4 at most (one
 * in 3 when more than 100 ms above), so a 400 ms excess drains in ~1.5 s;
 * below the target a PLC
 * frame is inserted (preemptive expand), at most every 100 ms. After 200 ms
 * of stall the peer has paused (muted, DTX off, gone): play silence and
 * buffer afresh when packets return. Packets far outside the ring restart
 * buffering: far ahead at once, far behind after three in a row (a sender
 * that restarted its numbering; a lone straggler is only late). */
#define G_LOG_DOMAIN "confab-audio-jitter-buffer"

#include "confab-audio-jitter-buffer.h"

#include <math.h>
#include <string.h>

#define SLOTS             64
#define FRAME_US          20000
#define FRAME_MS          20.0
#define MAX_OPUS_PACKET   1275                                        /* RFC 6716 */
#define TRANSIT_WINDOW    128                                         /* arrivals, ~2.5 s */
#define HIST_BUCKETS      (CONFAB_AUDIO_JITTER_MAX_DELAY_MS / 20 + 1) /* 20 ms each */
#define HIST_FORGET       0.975 /* per packet: a burst's weight halves in ~0.55 s */
#define HIST_PERCENTILE   0.95
#define PEAK_ABOVE_MS     60.0 /* a relative delay this far over the target is a stall */
#define PEAK_EVENT_GAP_US (1 * G_USEC_PER_SEC) /* one stall's burst is one event */
#define PEAK_PERIOD_US    (5 * G_USEC_PER_SEC) /* two stalls this close recur */
#define PEAK_KEEP_US      (10 * G_USEC_PER_SEC)
#define STALL_LIMIT       10 /* pulls of PLC before calling it a pause */
#define ADJUST_INTERVAL   5  /* pulls between two preemptive expands */
/* Accelerate above target + MAX (20 ms, target / 2): tight on a clean path
 * (every 20 ms there is mouth-to-ear), wide when the jitter is large, where
 * a tight band makes the level swing between drops and inserts. */
#define ACCELERATE_ABOVE_MS       20.0
#define ACCELERATE_ABOVE_FRACTION 0.5
#define ACCELERATE_EVERY          4 /* at most one audible frame dropped in this many */
#define ACCELERATE_FAR_MS         100.0
#define ACCELERATE_FAR_EVERY      3
#define QUIET_PACKET_BYTES        3     /* DTX / comfort-noise packets are 1-3 bytes */
#define QUIET_RMS                 300.0 /* ~ -41 dBFS: a pause between words */

typedef struct
{
  guint64 sequence;
  gboolean used;
  guint16 len;
  guint8 data[MAX_OPUS_PACKET];
} Slot;

struct _ConfabAudioJitterBuffer
{
  ConfabAudioDecoder *decoder;
  Slot slots[SLOTS];
  guint64 played[SLOTS]; /* sequence + 1 of packets decoded, to tell duplicates from late ones */
  guint n_used;

  gboolean have_any;
  gboolean ever_played; /* since the last reset */
  gboolean playing;
  guint64 next_seq;
  guint64 highest_seq;
  gint64 first_arrival_us; /* first packet of the current buffering period */
  guint stalled;           /* consecutive pulls that found nothing buffered */
  guint since_adjust;
  double filtered_level_ms;
  guint64 behind_last; /* last of a run of packets far behind next_seq */
  guint behind_run;

  /* Jitter estimate */
  guint64 base_seq;
  gint64 transits[TRANSIT_WINDOW];
  guint n_transits;
  guint transit_pos;
  double hist[HIST_BUCKETS]; /* decaying weights of relative delay, 20 ms buckets */
  double hist_total;
  double percentile_ms; /* 95th percentile of relative delay */
  gint64 last_peak_us;  /* start of the last stall event */
  double peak_floor_ms; /* relative delay of recurring stalls */
  gint64 peak_floor_until_us;
  double target_ms;

  ConfabAudioJitterStats stats;
};

ConfabAudioJitterBuffer *
confab_audio_jitter_buffer_new (GError **error)
{
  g_autoptr (ConfabAudioJitterBuffer) buffer = g_new0 (ConfabAudioJitterBuffer, 1);

  buffer->decoder = confab_audio_decoder_new (error);
  if (buffer->decoder == NULL)
    return NULL;
  buffer->target_ms = CONFAB_AUDIO_JITTER_MIN_DELAY_MS;
  return g_steal_pointer (&buffer);
}

void
confab_audio_jitter_buffer_free (ConfabAudioJitterBuffer *buffer)
{
  if (buffer == NULL)
    return;
  confab_audio_decoder_free (buffer->decoder);
  g_free (buffer);
}

static Slot *
find (ConfabAudioJitterBuffer *buffer, guint64 sequence)
{
  Slot *slot = &buffer->slots[sequence % SLOTS];

  return slot->used && slot->sequence == sequence ? slot : NULL;
}

static void
consume (ConfabAudioJitterBuffer *buffer, guint64 sequence)
{
  Slot *slot = find (buffer, sequence);

  if (slot != NULL)
    {
      slot->used = FALSE;
      buffer->n_used--;
    }
}

static guint
level_frames (ConfabAudioJitterBuffer *buffer)
{
  if (!buffer->have_any || buffer->highest_seq < buffer->next_seq)
    return 0;
  return (guint) MIN (buffer->highest_seq - buffer->next_seq + 1, (guint64) SLOTS);
}

/* The oldest buffered sequence at or after next_seq; FALSE when empty. */
static gboolean
first_present (ConfabAudioJitterBuffer *buffer, guint64 *sequence)
{
  guint level = level_frames (buffer);

  for (guint i = 0; i < level; i++)
    if (find (buffer, buffer->next_seq + i) != NULL)
      {
        *sequence = buffer->next_seq + i;
        return TRUE;
      }
  return FALSE;
}

static void
start_over (ConfabAudioJitterBuffer *buffer, guint64 sequence, gint64 arrival_us)
{
  for (guint i = 0; i < SLOTS; i++)
    {
      buffer->slots[i].used = FALSE;
      buffer->played[i] = 0;
    }
  buffer->n_used = 0;
  buffer->have_any = TRUE;
  buffer->ever_played = FALSE;
  buffer->playing = FALSE;
  buffer->next_seq = sequence;
  buffer->highest_seq = sequence;
  buffer->first_arrival_us = arrival_us;
  buffer->stalled = 0;
  buffer->behind_run = 0;
  /* A new numbering (sender restarted) has a new transit base; the jitter
   * learnt so far still describes the network, so the histogram stays. */
  buffer->base_seq = sequence;
  buffer->n_transits = 0;
  buffer->transit_pos = 0;
}

static void
update_jitter (ConfabAudioJitterBuffer *buffer, guint64 sequence, gint64 arrival_us)
{
  gint64 transit = arrival_us - (gint64) (sequence - buffer->base_seq) * FRAME_US;
  gint64 fastest = transit;
  double excess_ms, wanted, sum = 0;
  guint bucket, b;

  buffer->transits[buffer->transit_pos] = transit;
  buffer->transit_pos = (buffer->transit_pos + 1) % TRANSIT_WINDOW;
  buffer->n_transits = MIN (buffer->n_transits + 1, TRANSIT_WINDOW);
  for (guint i = 0; i < buffer->n_transits; i++)
    fastest = MIN (fastest, buffer->transits[i]);
  excess_ms = (transit - fastest) / 1000.0;

  /* Forget a little of everything, add this packet's relative delay. */
  bucket = (guint) MIN (excess_ms / FRAME_MS, (double) (HIST_BUCKETS - 1));
  for (b = 0; b < HIST_BUCKETS; b++)
    buffer->hist[b] *= HIST_FORGET;
  buffer->hist[bucket] += 1.0 - HIST_FORGET;
  buffer->hist_total = buffer->hist_total * HIST_FORGET + (1.0 - HIST_FORGET);
  wanted = HIST_PERCENTILE * buffer->hist_total;
  for (b = 0; b + 1 < HIST_BUCKETS; b++)
    {
      sum += buffer->hist[b];
      if (sum >= wanted)
        break;
    }
  /* The bucket's upper edge: every delay in it is covered. */
  buffer->percentile_ms = (b + 1) * FRAME_MS;

  /* A stall that repeats within a few seconds will come again: keep room
   * for it. One stall's burst (many packets at once) is one event. */
  if (excess_ms > buffer->percentile_ms + PEAK_ABOVE_MS)
    {
      if (buffer->last_peak_us == 0 || arrival_us - buffer->last_peak_us > PEAK_EVENT_GAP_US)
        {
          if (buffer->last_peak_us != 0 && arrival_us - buffer->last_peak_us <= PEAK_PERIOD_US)
            buffer->peak_floor_until_us = arrival_us + PEAK_KEEP_US;
          buffer->last_peak_us = arrival_us;
        }
      if (arrival_us - buffer->last_peak_us <= PEAK_EVENT_GAP_US &&
          buffer->peak_floor_until_us > arrival_us)
        buffer->peak_floor_ms = MAX (buffer->peak_floor_ms, excess_ms);
    }
  if (arrival_us >= buffer->peak_floor_until_us)
    buffer->peak_floor_ms = 0;

  buffer->target_ms = CLAMP (
      ceil ((MAX (buffer->percentile_ms, buffer->peak_floor_ms) + FRAME_MS) / FRAME_MS) * FRAME_MS,
      CONFAB_AUDIO_JITTER_MIN_DELAY_MS, CONFAB_AUDIO_JITTER_MAX_DELAY_MS);
}

gboolean
confab_audio_jitter_buffer_push (ConfabAudioJitterBuffer *buffer,
                                 guint64 sequence,
                                 const guint8 *packet,
                                 gsize len,
                                 gint64 arrival_us)
{
  Slot *slot;

  if (packet == NULL || len == 0 || len > MAX_OPUS_PACKET)
    {
      buffer->stats.invalid_packets++;
      return FALSE;
    }

  if (!buffer->have_any)
    start_over (buffer, sequence, arrival_us);
  else if (sequence >= buffer->next_seq + SLOTS)
    {
      /* Far ahead: a long pause, or we fell behind. Old state would only
       * play stale audio. */
      buffer->stats.resets++;
      start_over (buffer, sequence, arrival_us);
    }
  else if (sequence < buffer->next_seq && buffer->next_seq - sequence > SLOTS)
    {
      /* Far behind: a straggler, or the sender restarted its numbering. Three
       * in a row that count up are a restart. */
      buffer->behind_run = buffer->behind_run > 0 && sequence == buffer->behind_last + 1
                               ? buffer->behind_run + 1
                               : 1;
      buffer->behind_last = sequence;
      if (buffer->behind_run < 3)
        {
          buffer->stats.late_packets++;
          return FALSE;
        }
      buffer->stats.resets++;
      start_over (buffer, sequence, arrival_us);
    }
  buffer->behind_run = 0;

  if (sequence < buffer->next_seq)
    {
      if (!buffer->ever_played)
        {
          /* Reordered before playout began: start from the earliest. */
          buffer->next_seq = sequence;
        }
      else if (buffer->played[sequence % SLOTS] == sequence + 1)
        {
          buffer->stats.duplicate_packets++;
          return FALSE;
        }
      else
        {
          /* Its time has passed (it was concealed). Its lateness still
           * tells us how much delay the network needs. */
          buffer->stats.late_packets++;
          update_jitter (buffer, sequence, arrival_us);
          return FALSE;
        }
    }

  slot = &buffer->slots[sequence % SLOTS];
  if (slot->used && slot->sequence == sequence)
    {
      buffer->stats.duplicate_packets++;
      return FALSE;
    }
  if (!slot->used)
    buffer->n_used++;
  if (buffer->n_used == 1 && !buffer->playing)
    buffer->first_arrival_us = arrival_us;
  slot->used = TRUE;
  slot->sequence = sequence;
  slot->len = (guint16) len;
  memcpy (slot->data, packet, len);
  buffer->highest_seq = MAX (buffer->highest_seq, sequence);
  buffer->stats.packets_received++;
  update_jitter (buffer, sequence, arrival_us);
  return TRUE;
}

static ConfabAudioPlayout
play_silence (ConfabAudioJitterBuffer *buffer, gint16 *pcm)
{
  memset (pcm, 0, CONFAB_AUDIO_FRAME_SAMPLES * sizeof (gint16));
  buffer->stats.silence_frames++;
  return CONFAB_AUDIO_PLAYOUT_SILENCE;
}

/* Plays (or conceals) next_seq and moves on. */
static ConfabAudioPlayout
play_due (ConfabAudioJitterBuffer *buffer, gint16 *pcm)
{
  guint64 sequence = buffer->next_seq;
  Slot *slot = find (buffer, sequence);
  ConfabAudioPlayout how;

  if (slot != NULL &&
      confab_audio_decoder_decode (buffer->decoder, slot->data, slot->len, pcm, NULL))
    {
      buffer->played[sequence % SLOTS] = sequence + 1;
      buffer->stats.normal_frames++;
      how = CONFAB_AUDIO_PLAYOUT_NORMAL;
    }
  else
    {
      Slot *next = find (buffer, sequence + 1);

      if (slot != NULL)
        buffer->stats.invalid_packets++;
      if (confab_audio_decoder_conceal (buffer->decoder, next != NULL ? next->data : NULL,
                                        next != NULL ? next->len : 0,
                                        pcm) == CONFAB_AUDIO_CONCEAL_FEC)
        {
          buffer->stats.fec_frames++;
          how = CONFAB_AUDIO_PLAYOUT_FEC;
        }
      else
        {
          buffer->stats.plc_frames++;
          how = CONFAB_AUDIO_PLAYOUT_PLC;
        }
    }
  consume (buffer, sequence);
  buffer->stats.last_sequence = sequence;
  buffer->next_seq = sequence + 1;
  buffer->ever_played = TRUE;
  return how;
}

ConfabAudioPlayout
confab_audio_jitter_buffer_pull (ConfabAudioJitterBuffer *buffer, gint64 now_us, gint16 *pcm)
{
  guint64 first;
  double level_ms;

  if (!buffer->have_any)
    return play_silence (buffer, pcm);

  if (!buffer->playing)
    {
      if (!first_present (buffer, &first))
        return play_silence (buffer, pcm);
      /* Start once the target delay is buffered, or has passed since the
       * first packet (a sender slower than 50 packets/s). */
      if ((buffer->highest_seq - first + 1) * FRAME_MS < buffer->target_ms &&
          now_us - buffer->first_arrival_us < buffer->target_ms * 1000)
        return play_silence (buffer, pcm);
      buffer->next_seq = first;
      buffer->playing = TRUE;
      buffer->stalled = 0;
      buffer->since_adjust = 0;
      buffer->filtered_level_ms = level_frames (buffer) * FRAME_MS;
    }

  if (level_frames (buffer) == 0)
    {
      /* A stall: nothing buffered. Stretch with PLC but stay on the due
       * sequence, so late packets still play and the delay grows. */
      if (++buffer->stalled > STALL_LIMIT)
        {
          buffer->playing = FALSE;
          return play_silence (buffer, pcm);
        }
      confab_audio_decoder_conceal (buffer->decoder, NULL, 0, pcm);
      buffer->stats.plc_frames++;
      return CONFAB_AUDIO_PLAYOUT_PLC;
    }

  /* Packets are back after a stall. Those missing before the first one are
   * lost, and the stall's PLC already covered their time: skip them. */
  if (buffer->stalled > 0 && find (buffer, buffer->next_seq) == NULL &&
      first_present (buffer, &first))
    buffer->next_seq += MIN (buffer->stalled, first - buffer->next_seq);
  buffer->stalled = 0;

  buffer->since_adjust++;
  level_ms = level_frames (buffer) * FRAME_MS;
  buffer->filtered_level_ms = 0.875 * buffer->filtered_level_ms + 0.125 * level_ms;
  if (buffer->filtered_level_ms >
          buffer->target_ms +
              MAX (ACCELERATE_ABOVE_MS, ACCELERATE_ABOVE_FRACTION * buffer->target_ms) &&
      find (buffer, buffer->next_seq) != NULL && find (buffer, buffer->next_seq + 1) != NULL)
    {
      Slot *due = find (buffer, buffer->next_seq);
      gboolean quiet = due->len <= QUIET_PACKET_BYTES;
      guint every = buffer->filtered_level_ms > buffer->target_ms + ACCELERATE_FAR_MS
                        ? ACCELERATE_FAR_EVERY
                        : ACCELERATE_EVERY;
      ConfabAudioPlayout how;

      /* Decode the frame first: the decoder's state stays continuous, and
       * its energy says whether dropping it would be heard. */
      how = play_due (buffer, pcm);
      if (how != CONFAB_AUDIO_PLAYOUT_NORMAL)
        return how;
      if (!quiet)
        {
          double energy = 0;

          for (guint i = 0; i < CONFAB_AUDIO_FRAME_SAMPLES; i++)
            energy += (double) pcm[i] * pcm[i];
          quiet = sqrt (energy / CONFAB_AUDIO_FRAME_SAMPLES) < QUIET_RMS;
        }
      if (!quiet && buffer->since_adjust < every)
        return how; /* heard: played as it came */
      buffer->stats.normal_frames--;
      buffer->stats.accelerate_count++;
      buffer->since_adjust = 0;
      buffer->filtered_level_ms -= FRAME_MS;
    }
  else if (buffer->since_adjust >= ADJUST_INTERVAL && buffer->filtered_level_ms < buffer->target_ms)
    {
      buffer->filtered_level_ms += FRAME_MS;
      confab_audio_decoder_conceal (buffer->decoder, NULL, 0, pcm);
      buffer->stats.preemptive_expand_count++;
      buffer->since_adjust = 0;
      return CONFAB_AUDIO_PLAYOUT_PLC;
    }
  return play_due (buffer, pcm);
}

void
confab_audio_jitter_buffer_get_stats (ConfabAudioJitterBuffer *buffer,
                                      ConfabAudioJitterStats *stats)
{
  *stats = buffer->stats;
  stats->current_buffer_ms = buffer->playing ? level_frames (buffer) * FRAME_MS : 0;
  stats->target_delay_ms = buffer->target_ms;
  stats->jitter_ms = MAX (buffer->percentile_ms, buffer->peak_floor_ms);
  stats->packets_awaiting_decode = buffer->n_used;
  stats->concealed_ms = (double) (buffer->stats.fec_frames + buffer->stats.plc_frames) * FRAME_MS;
}
