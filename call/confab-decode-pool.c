/* confab-decode-pool.c: one lock for the whole pool (a few hundred frames a
 * second; held only to move pointers, never while decoding), one queue of
 * streams that have frames waiting and no worker on them, fixed rings per
 * stream (no allocation per frame), and one GSource on the receiving context
 * made ready when the list of streams with results goes from empty to not. */
#define G_LOG_DOMAIN "confab-decode-pool"

#include "confab-decode-pool.h"

#include "confab-video-decoder.h"

#define RESULT_RING 16 /* > the lip-sync queue; more means the receiver stalled */

typedef struct
{
  ConfabVideoCodec codec;
  gboolean is_key;
  guint64 sequence;
  GBytes *data;
  gint64 timestamp_us;
  gint64 queued_us; /* monotonic, when handed over */
} Job;

struct _ConfabDecodeStream
{
  gint refcount; /* atomic */
  ConfabDecodePool *pool;
  gpointer owner; /* pool's context only */

  /* Under pool->lock */
  Job jobs[CONFAB_DECODE_QUEUE];
  guint job_head;
  guint job_len;
  ConfabDecodeResult results[RESULT_RING];
  guint result_head;
  guint result_len;
  guint64 results_dropped;
  gboolean queued; /* in pool->queue (holds a reference) */
  gboolean busy;   /* a worker decodes one of its frames */
  gboolean in_ready;
  gboolean closed;
  GList link; /* in pool->queue */

  /* The worker's alone while busy */
  ConfabVideoDecoder *decoder;
  gboolean warned;
};

typedef struct
{
  GSource base;
  ConfabDecodePool *pool;
} ReadySource;

struct _ConfabDecodePool
{
  gint refcount; /* atomic */
  GMutex lock;
  GCond cond;
  GQueue queue;     /* ConfabDecodeStream with frames and no worker */
  GPtrArray *ready; /* ConfabDecodeStream (a reference each) with results */
  GPtrArray *spare; /* the other ready list, swapped on dispatch */
  gboolean quit;
  GThread **threads;
  guint n_threads;
  GSource *source;
  ConfabDecodeReadyFunc func;
  gpointer user_data;
};

static void
pool_ref (ConfabDecodePool *pool)
{
  g_atomic_int_inc (&pool->refcount);
}

void
confab_decode_pool_unref (ConfabDecodePool *pool)
{
  if (pool == NULL || !g_atomic_int_dec_and_test (&pool->refcount))
    return;
  g_assert (pool->threads == NULL);
  g_ptr_array_unref (pool->ready);
  if (pool->spare != NULL)
    g_ptr_array_unref (pool->spare);
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->cond);
  g_free (pool);
}

static void
job_clear (Job *job)
{
  g_clear_pointer (&job->data, g_bytes_unref);
}

static void
stream_unref (ConfabDecodeStream *stream)
{
  if (!g_atomic_int_dec_and_test (&stream->refcount))
    return;
  for (guint i = 0; i < stream->job_len; i++)
    job_clear (&stream->jobs[(stream->job_head + i) % CONFAB_DECODE_QUEUE]);
  for (guint i = 0; i < stream->result_len; i++)
    confab_video_frame_unref (stream->results[(stream->result_head + i) % RESULT_RING].picture);
  confab_video_decoder_free (stream->decoder);
  confab_decode_pool_unref (stream->pool);
  g_free (stream);
}

static void
stream_decode (ConfabDecodeStream *stream, Job *job, ConfabDecodeResult *result)
{
  g_autoptr (GError) error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (job->data, &size);

  result->latency_us = G_MININT64;
  /* A new codec (the sender switched) needs a new decoder; its first
   * frame is a key frame. */
  if (stream->decoder == NULL || confab_video_decoder_get_codec (stream->decoder) != job->codec)
    {
      g_clear_pointer (&stream->decoder, confab_video_decoder_free);
      stream->decoder = confab_video_decoder_new (job->codec, 1, &error);
      if (stream->decoder == NULL)
        {
          /* Once per stream: an unknown codec arrives with every frame. */
          if (!stream->warned)
            g_warning ("Cannot decode video: %s", error->message);
          stream->warned = TRUE;
          result->outcome = CONFAB_DECODE_NO_DECODER;
          return;
        }
    }
  if (!confab_video_decoder_decode (stream->decoder, data, size, job->timestamp_us,
                                    &result->picture, &error))
    {
      if (error != NULL)
        g_debug ("Frame %" G_GUINT64_FORMAT ": %s", job->sequence, error->message);
      result->outcome = CONFAB_DECODE_FAILED;
      return;
    }
  result->decoded_us = g_get_monotonic_time ();
  if (result->picture == NULL)
    {
      result->outcome = CONFAB_DECODE_NO_PICTURE;
      return;
    }
  result->outcome = CONFAB_DECODE_PICTURE;
  if (result->picture->pts_us > 0)
    result->latency_us = g_get_real_time () - result->picture->pts_us;
}

/* Under the lock. */
static void
stream_push_result (ConfabDecodeStream *stream, ConfabDecodeResult *result)
{
  ConfabDecodePool *pool = stream->pool;

  if (stream->closed)
    {
      confab_video_frame_unref (result->picture);
      return;
    }
  if (stream->result_len == RESULT_RING)
    {
      /* Nobody collected for a while: the oldest goes. */
      ConfabDecodeResult *old = &stream->results[stream->result_head];

      if (old->picture != NULL)
        stream->results_dropped++;
      confab_video_frame_unref (old->picture);
      stream->result_head = (stream->result_head + 1) % RESULT_RING;
      stream->result_len--;
    }
  stream->results[(stream->result_head + stream->result_len) % RESULT_RING] = *result;
  stream->result_len++;
  if (!stream->in_ready)
    {
      stream->in_ready = TRUE;
      g_atomic_int_inc (&stream->refcount);
      g_ptr_array_add (pool->ready, stream);
      /* One wake-up per batch: only the first result since the last dispatch. */
      if (pool->ready->len == 1)
        g_source_set_ready_time (pool->source, 0);
    }
}

static gpointer
worker_main (gpointer data)
{
  ConfabDecodePool *pool = data;

  g_mutex_lock (&pool->lock);
  while (!pool->quit)
    {
      ConfabDecodeStream *stream;
      ConfabDecodeResult result = { 0 };
      Job job;

      if (pool->queue.length == 0)
        {
          g_cond_wait (&pool->cond, &pool->lock);
          continue;
        }
      stream = pool->queue.head->data;
      g_queue_unlink (&pool->queue, &stream->link);
      stream->queued = FALSE; /* its reference is ours now */
      if (stream->job_len == 0)
        {
          g_mutex_unlock (&pool->lock);
          stream_unref (stream);
          g_mutex_lock (&pool->lock);
          continue;
        }
      job = stream->jobs[stream->job_head];
      stream->jobs[stream->job_head].data = NULL;
      stream->job_head = (stream->job_head + 1) % CONFAB_DECODE_QUEUE;
      stream->job_len--;
      stream->busy = TRUE;
      g_mutex_unlock (&pool->lock);

      stream_decode (stream, &job, &result);
      job_clear (&job);

      g_mutex_lock (&pool->lock);
      stream->busy = FALSE;
      stream_push_result (stream, &result);
      if (stream->job_len > 0 && !stream->closed)
        {
          /* To the back: peers take turns on the workers. */
          stream->queued = TRUE;
          g_queue_push_tail_link (&pool->queue, &stream->link);
        }
      else
        {
          g_mutex_unlock (&pool->lock);
          stream_unref (stream);
          g_mutex_lock (&pool->lock);
        }
    }
  g_mutex_unlock (&pool->lock);
  return NULL;
}

static gboolean
ready_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  ConfabDecodePool *pool = ((ReadySource *) source)->pool;
  GPtrArray *taken;

  g_source_set_ready_time (source, -1);
  pool_ref (pool);
  g_mutex_lock (&pool->lock);
  taken = pool->ready;
  pool->ready = pool->spare != NULL ? pool->spare : g_ptr_array_new ();
  pool->spare = NULL;
  for (guint i = 0; i < taken->len; i++)
    ((ConfabDecodeStream *) g_ptr_array_index (taken, i))->in_ready = FALSE;
  g_mutex_unlock (&pool->lock);

  /* The callback may close streams or shut the pool down: each stream is
   * held by its reference in @taken, the pool by ours. */
  for (guint i = 0; i < taken->len; i++)
    {
      ConfabDecodeStream *stream = g_ptr_array_index (taken, i);

      if (!stream->closed && !pool->quit)
        pool->func (stream->owner, pool->user_data);
    }
  for (guint i = 0; i < taken->len; i++)
    stream_unref (g_ptr_array_index (taken, i));
  g_ptr_array_set_size (taken, 0);
  g_mutex_lock (&pool->lock);
  if (pool->spare == NULL)
    pool->spare = g_steal_pointer (&taken);
  g_mutex_unlock (&pool->lock);
  if (taken != NULL)
    g_ptr_array_unref (taken);
  confab_decode_pool_unref (pool);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs ready_funcs = {
  .dispatch = ready_dispatch,
};

ConfabDecodePool *
confab_decode_pool_new (guint threads,
                        GMainContext *context,
                        ConfabDecodeReadyFunc func,
                        gpointer user_data)
{
  ConfabDecodePool *pool = g_new0 (ConfabDecodePool, 1);

  g_return_val_if_fail (threads > 0, NULL);
  pool->refcount = 1;
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->cond);
  g_queue_init (&pool->queue);
  pool->ready = g_ptr_array_sized_new (32);
  pool->spare = g_ptr_array_sized_new (32);
  pool->func = func;
  pool->user_data = user_data;
  pool->source = g_source_new (&ready_funcs, sizeof (ReadySource));
  ((ReadySource *) pool->source)->pool = pool;
  g_source_set_name (pool->source, "confab-decode-pool");
  g_source_attach (pool->source, context);
  pool->n_threads = threads;
  pool->threads = g_new0 (GThread *, threads);
  for (guint i = 0; i < threads; i++)
    pool->threads[i] = g_thread_new ("confab-decode", worker_main, pool);
  return pool;
}

guint
confab_decode_pool_get_threads (ConfabDecodePool *pool)
{
  return pool->n_threads;
}

void
confab_decode_pool_shutdown (ConfabDecodePool *pool)
{
  GPtrArray *ready;
  GQueue queue;

  if (pool->threads == NULL)
    return;
  g_mutex_lock (&pool->lock);
  pool->quit = TRUE;
  g_cond_broadcast (&pool->cond);
  g_mutex_unlock (&pool->lock);
  for (guint i = 0; i < pool->n_threads; i++)
    g_thread_join (pool->threads[i]);
  g_clear_pointer (&pool->threads, g_free);

  g_source_destroy (pool->source);
  g_clear_pointer (&pool->source, g_source_unref);
  g_mutex_lock (&pool->lock);
  queue = pool->queue;
  g_queue_init (&pool->queue);
  ready = pool->ready;
  pool->ready = g_ptr_array_new ();
  for (GList *l = queue.head; l != NULL; l = l->next)
    ((ConfabDecodeStream *) l->data)->queued = FALSE;
  for (guint i = 0; i < ready->len; i++)
    ((ConfabDecodeStream *) g_ptr_array_index (ready, i))->in_ready = FALSE;
  g_mutex_unlock (&pool->lock);
  while (queue.length > 0)
    {
      ConfabDecodeStream *stream = queue.head->data;

      g_queue_unlink (&queue, &stream->link);
      stream_unref (stream);
    }
  g_ptr_array_set_free_func (ready, (GDestroyNotify) stream_unref);
  g_ptr_array_unref (ready);
}

ConfabDecodeStream *
confab_decode_stream_new (ConfabDecodePool *pool, gpointer owner)
{
  ConfabDecodeStream *stream = g_new0 (ConfabDecodeStream, 1);

  stream->refcount = 1;
  stream->pool = pool;
  pool_ref (pool);
  stream->owner = owner;
  stream->link.data = stream;
  return stream;
}

void
confab_decode_stream_close (ConfabDecodeStream *stream)
{
  Job jobs[CONFAB_DECODE_QUEUE];
  ConfabVideoFrame *pictures[RESULT_RING];
  guint n_jobs, n_pictures = 0;

  if (stream == NULL)
    return;
  g_mutex_lock (&stream->pool->lock);
  stream->closed = TRUE;
  stream->owner = NULL;
  n_jobs = stream->job_len;
  for (guint i = 0; i < n_jobs; i++)
    jobs[i] = stream->jobs[(stream->job_head + i) % CONFAB_DECODE_QUEUE];
  stream->job_len = 0;
  for (guint i = 0; i < stream->result_len; i++)
    pictures[n_pictures++] = stream->results[(stream->result_head + i) % RESULT_RING].picture;
  stream->result_len = 0;
  g_mutex_unlock (&stream->pool->lock);
  /* Freed outside the lock; a worker still queued with it, or decoding its
   * last frame, holds its own reference. */
  for (guint i = 0; i < n_jobs; i++)
    job_clear (&jobs[i]);
  for (guint i = 0; i < n_pictures; i++)
    confab_video_frame_unref (pictures[i]);
  stream_unref (stream);
}

gboolean
confab_decode_stream_submit (ConfabDecodeStream *stream,
                             ConfabVideoCodec codec,
                             gboolean is_key,
                             guint64 sequence,
                             GBytes *data,
                             gint64 timestamp_us,
                             guint *dropped)
{
  ConfabDecodePool *pool = stream->pool;
  Job stale[CONFAB_DECODE_QUEUE];
  guint n_stale = 0;
  gboolean queued = FALSE;
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&pool->lock);
  if (pool->quit || stream->closed)
    goto out;
  if (stream->job_len == CONFAB_DECODE_QUEUE ||
      (stream->job_len > 0 &&
       now - stream->jobs[stream->job_head].queued_us > CONFAB_DECODE_MAX_WAIT_US))
    {
      /* Behind: what waits is worth less than the next key frame. */
      for (guint i = 0; i < stream->job_len; i++)
        stale[n_stale++] = stream->jobs[(stream->job_head + i) % CONFAB_DECODE_QUEUE];
      stream->job_len = 0;
      if (!is_key)
        goto out;
    }
  stream->jobs[(stream->job_head + stream->job_len) % CONFAB_DECODE_QUEUE] = (Job){
    codec, is_key, sequence, g_bytes_ref (data), timestamp_us, now,
  };
  stream->job_len++;
  queued = TRUE;
  if (!stream->queued && !stream->busy)
    {
      stream->queued = TRUE;
      g_atomic_int_inc (&stream->refcount);
      g_queue_push_tail_link (&pool->queue, &stream->link);
      g_cond_signal (&pool->cond);
    }
out:
  g_mutex_unlock (&pool->lock);
  for (guint i = 0; i < n_stale; i++)
    job_clear (&stale[i]);
  *dropped = n_stale;
  return queued;
}

gboolean
confab_decode_stream_pop (ConfabDecodeStream *stream, ConfabDecodeResult *result)
{
  gboolean popped = FALSE;

  g_mutex_lock (&stream->pool->lock);
  if (stream->result_len > 0)
    {
      *result = stream->results[stream->result_head];
      stream->result_head = (stream->result_head + 1) % RESULT_RING;
      stream->result_len--;
      popped = TRUE;
    }
  g_mutex_unlock (&stream->pool->lock);
  return popped;
}

guint64
confab_decode_stream_get_results_dropped (ConfabDecodeStream *stream)
{
  guint64 dropped;

  g_mutex_lock (&stream->pool->lock);
  dropped = stream->results_dropped;
  g_mutex_unlock (&stream->pool->lock);
  return dropped;
}
