/* confab-video-jitter-buffer.c: a ring of encoded frames indexed by sequence.
 * Video frames are whole (one per packet), so the only reordering is between
 * frames, and a lost frame breaks every delta after it until a key frame. */
#define G_LOG_DOMAIN "confab-video-jitter-buffer"

#include "confab-video-jitter-buffer.h"

#define SLOTS CONFAB_VIDEO_JITTER_SLOTS

struct _ConfabVideoJitterBuffer
{
  ConfabVideoJitterFrame slots[SLOTS]; /* data == NULL: empty */
  guint n_used;
  guint64 highest_seq;

  gboolean have_next; /* a key frame started the stream: next_seq is the one to decode */
  guint64 next_seq;
  gboolean waiting_for_key;
  gint64 gap_since_us; /* when the wait for a key frame began; -1 before any frame */
  gboolean requested_once;
  gint64 last_request_us;

  ConfabVideoJitterStats stats;
};

void
confab_video_jitter_frame_clear (ConfabVideoJitterFrame *frame)
{
  g_clear_pointer (&frame->data, g_bytes_unref);
}

ConfabVideoJitterBuffer *
confab_video_jitter_buffer_new (void)
{
  ConfabVideoJitterBuffer *buffer = g_new0 (ConfabVideoJitterBuffer, 1);

  /* Nothing decodes before the first key frame. */
  buffer->waiting_for_key = TRUE;
  buffer->gap_since_us = -1;
  return buffer;
}

void
confab_video_jitter_buffer_free (ConfabVideoJitterBuffer *buffer)
{
  if (buffer == NULL)
    return;
  for (guint i = 0; i < SLOTS; i++)
    confab_video_jitter_frame_clear (&buffer->slots[i]);
  g_free (buffer);
}

static ConfabVideoJitterFrame *
find (ConfabVideoJitterBuffer *buffer, guint64 sequence)
{
  ConfabVideoJitterFrame *slot = &buffer->slots[sequence % SLOTS];

  return slot->data != NULL && slot->sequence == sequence ? slot : NULL;
}

static void
evict (ConfabVideoJitterBuffer *buffer, ConfabVideoJitterFrame *slot, guint64 *counter)
{
  confab_video_jitter_frame_clear (slot);
  buffer->n_used--;
  (*counter)++;
}

/* The buffered frame with the lowest sequence (a key frame only, if asked). */
static ConfabVideoJitterFrame *
lowest (ConfabVideoJitterBuffer *buffer, gboolean key_only)
{
  ConfabVideoJitterFrame *best = NULL;

  for (guint i = 0; i < SLOTS; i++)
    {
      ConfabVideoJitterFrame *slot = &buffer->slots[i];

      if (slot->data == NULL || (key_only && !slot->is_key))
        continue;
      if (best == NULL || slot->sequence < best->sequence)
        best = slot;
    }
  return best;
}

static void
start_waiting (ConfabVideoJitterBuffer *buffer, gint64 now_us)
{
  if (buffer->waiting_for_key)
    return;
  buffer->waiting_for_key = TRUE;
  buffer->gap_since_us = now_us;
}

gboolean
confab_video_jitter_buffer_push (ConfabVideoJitterBuffer *buffer,
                                 guint64 sequence,
                                 gboolean is_key,
                                 GBytes *data,
                                 gint64 timestamp_us,
                                 gint64 arrival_us)
{
  ConfabVideoJitterFrame *slot;

  if (data == NULL || g_bytes_get_size (data) == 0)
    {
      buffer->stats.dropped_undecodable++;
      return FALSE;
    }
  buffer->stats.frames_received++;
  if (buffer->gap_since_us < 0)
    buffer->gap_since_us = arrival_us; /* a late joiner asks for a key after 1 s */

  if ((buffer->have_next && sequence < buffer->next_seq) ||
      (buffer->n_used > 0 && sequence < buffer->highest_seq &&
       buffer->highest_seq - sequence >= SLOTS))
    {
      buffer->stats.dropped_late++;
      return FALSE;
    }
  if (find (buffer, sequence) != NULL)
    {
      buffer->stats.dropped_duplicate++;
      return FALSE;
    }

  /* Far ahead of what is buffered: the ring keeps the newest SLOTS frames.
   * Deltas waiting for a key frame that never came go first; anything older
   * that was still missing is lost. */
  if (sequence >= SLOTS)
    for (guint i = 0; i < SLOTS; i++)
      if (buffer->slots[i].data != NULL && buffer->slots[i].sequence <= sequence - SLOTS)
        evict (buffer, &buffer->slots[i],
               buffer->waiting_for_key ? &buffer->stats.dropped_undecodable
                                       : &buffer->stats.dropped_overflow);
  if (buffer->have_next && sequence >= SLOTS && buffer->next_seq <= sequence - SLOTS)
    {
      if (!buffer->waiting_for_key)
        buffer->stats.gaps++;
      buffer->next_seq = sequence - SLOTS + 1;
      start_waiting (buffer, arrival_us);
    }

  slot = &buffer->slots[sequence % SLOTS];
  g_assert (slot->data == NULL);
  slot->sequence = sequence;
  slot->is_key = is_key;
  slot->data = g_bytes_ref (data);
  slot->timestamp_us = timestamp_us;
  slot->arrival_us = arrival_us;
  buffer->n_used++;
  buffer->highest_seq = buffer->n_used == 1 ? sequence : MAX (buffer->highest_seq, sequence);
  return TRUE;
}

gboolean
confab_video_jitter_buffer_pop (ConfabVideoJitterBuffer *buffer,
                                gint64 now_us,
                                ConfabVideoJitterFrame *out)
{
  /* Each round either returns or removes a hole or frames: bounded. */
  for (guint round = 0; round <= 2 * SLOTS + 2; round++)
    {
      ConfabVideoJitterFrame *slot, *first;

      if (buffer->waiting_for_key)
        {
          ConfabVideoJitterFrame *key = lowest (buffer, TRUE);

          if (key == NULL)
            return FALSE;
          /* Deltas before it can never decode now. */
          for (guint i = 0; i < SLOTS; i++)
            if (buffer->slots[i].data != NULL && buffer->slots[i].sequence < key->sequence)
              evict (buffer, &buffer->slots[i], &buffer->stats.dropped_undecodable);
          buffer->have_next = TRUE;
          buffer->next_seq = key->sequence;
          buffer->waiting_for_key = FALSE;
          buffer->gap_since_us = 0;
        }

      slot = find (buffer, buffer->next_seq);
      if (slot != NULL)
        {
          *out = *slot;
          slot->data = NULL;
          buffer->n_used--;
          buffer->next_seq++;
          buffer->stats.frames_released++;
          return TRUE;
        }
      if (buffer->n_used == 0)
        return FALSE;

      /* A hole at next_seq with frames behind it: give the missing frame a
       * moment to arrive out of order, but never hold more than that. */
      first = lowest (buffer, FALSE);
      if (now_us - first->arrival_us < CONFAB_VIDEO_JITTER_REORDER_WAIT_US &&
          buffer->n_used < CONFAB_VIDEO_JITTER_REORDER_FRAMES)
        return FALSE;
      buffer->stats.gaps++;
      buffer->next_seq = first->sequence;
      if (!first->is_key)
        start_waiting (buffer, now_us);
    }
  return FALSE;
}

gint64
confab_video_jitter_buffer_get_deadline (ConfabVideoJitterBuffer *buffer)
{
  ConfabVideoJitterFrame *first;

  if (buffer->waiting_for_key || !buffer->have_next || buffer->n_used == 0 ||
      find (buffer, buffer->next_seq) != NULL)
    return -1;
  first = lowest (buffer, FALSE);
  return first->arrival_us + CONFAB_VIDEO_JITTER_REORDER_WAIT_US;
}

void
confab_video_jitter_buffer_decode_failed (ConfabVideoJitterBuffer *buffer, gint64 now_us)
{
  start_waiting (buffer, now_us);
}

gboolean
confab_video_jitter_buffer_is_waiting_for_keyframe (ConfabVideoJitterBuffer *buffer)
{
  return buffer->waiting_for_key;
}

gboolean
confab_video_jitter_buffer_take_keyframe_request (ConfabVideoJitterBuffer *buffer, gint64 now_us)
{
  if (!buffer->waiting_for_key || buffer->gap_since_us < 0)
    return FALSE;
  if (now_us - buffer->gap_since_us < CONFAB_VIDEO_KEYFRAME_REQUEST_AFTER_US)
    return FALSE;
  if (buffer->requested_once &&
      now_us - buffer->last_request_us < CONFAB_VIDEO_KEYFRAME_REQUEST_INTERVAL_US)
    return FALSE;
  buffer->requested_once = TRUE;
  buffer->last_request_us = now_us;
  buffer->stats.keyframe_requests++;
  return TRUE;
}

void
confab_video_jitter_buffer_get_stats (ConfabVideoJitterBuffer *buffer,
                                      ConfabVideoJitterStats *stats)
{
  *stats = buffer->stats;
  stats->frames_buffered = buffer->n_used;
  stats->waiting_for_keyframe = buffer->waiting_for_key;
}
