/* confab-video-grid.c: every participant's video drawn by one GtkGLArea, with
 * their overlays as widgets above it (see the header). Per frame nothing is
 * allocated or copied: a tick takes the newest picture by reference, the
 * render uploads its planes straight from the frame (GL_UNPACK_ROW_LENGTH)
 * into textures that are only reallocated when the size changes. */
#define G_LOG_DOMAIN "confab-video-grid"

#include "confab-video-grid.h"

#include "confab-grid-layout.h"
#include "confab-picture-scaler.h"

#include <epoxy/gl.h>
#include <gsk/gl/gskglrenderer.h>
#include <string.h>
#include <glib/gi18n.h>

#define SPACING         8
#define MIN_STRIP_WIDTH 160
/* Tiles not on screen (speaker view's hidden ones) take a picture this often,
 * so they are current when they come back; never uploaded while hidden. */
#define HIDDEN_PULL_INTERVAL_US G_USEC_PER_SEC
/* A tile must stay hidden this long before its video is no longer wanted
 * (decoded at key frames only): resizing, a flap sliding or the speaker
 * changing must not flap between the two. Showing is immediate. */
#define HIDE_DELAY_US (600 * 1000)

typedef struct _PixelPool PixelPool;

typedef struct
{
  guint64 id;
  ConfabParticipantTile *widget;
  gboolean mirror;
  gboolean video_enabled;
  ConfabVideoTakeFunc take;
  gpointer take_data;

  /* Pictures taken but not yet shown, oldest first: @next only while
   * @pending waits for a render (two of one peer's pictures arrived inside
   * one render interval); it is shown by the render after. */
  ConfabVideoFrame *pending;
  ConfabVideoFrame *next;
  GLuint textures[3];
  int texture_width; /* Y plane size the textures hold */
  int texture_height;
  gboolean has_picture; /* the textures hold one */
  guint64 frames_shown;

  /* Software path: the picture converted on the CPU at its on-screen size. */
  ConfabPictureScaler *scaler; /* to BGR24 at the size shown */
  GdkTexture *texture;

  ConfabGridRect rect; /* empty: not on screen */
  int avatar_size;     /* what the layout wants */
  int avatar_size_set; /* what the tile has */
  gint64 last_pull_us;

  /* Video demand told to the session (decoding at full rate or not). */
  gboolean wanted;
  gint64 hidden_since_us; /* 0: visible */
} GridTile;

struct _ConfabVideoGrid
{
  GtkWidget parent_instance;

  GtkWidget *gl_area;
  GtkWidget *view_button;
  GPtrArray *tiles; /* GridTile *, in order of joining */
  GArray *rects;    /* ConfabGridRect scratch for the layout, reused */
  GPtrArray *order; /* GridTile * scratch: speaker first in speaker view */
  guint tick_id;
  guint avatar_idle;
  ConfabRenderPacer pacer; /* when new pictures are rendered (~30/s at most) */
  PixelPool *pool;
  ConfabCallSession *session; /* bound */

  gboolean speaker_view;
  gboolean has_pinned;
  guint64 pinned_id;
  gboolean has_active_speaker;
  guint64 active_speaker_id;

  gboolean cpu_path; /* pictures converted on the CPU, no GtkGLArea */

  /* What hides tiles besides the layout: the window (minimized, not
   * mapped) and a panel over the grid. */
  GdkSurface *surface; /* watched while mapped */
  GtkWidget *cover;    /* weak */
  guint demand_timer;

  /* GL state, valid while gl_ready */
  gboolean gl_ready;
  GLuint program;
  GLuint vao;
  GLuint vbo;
  GLint mirror_location;
};

G_DEFINE_FINAL_TYPE (ConfabVideoGrid, confab_video_grid, GTK_TYPE_WIDGET)

/* ---- GL ------------------------------------------------------------------------ */

/* BT.601 limited range: Y' 16–235, Cb/Cr 16–240 around 128. */
static const char vertex_source[] =
    "in vec2 position;\n"
    "out vec2 uv;\n"
    "uniform float mirror;\n"
    "void main () {\n"
    "  gl_Position = vec4 (position, 0.0, 1.0);\n"
    "  vec2 t = vec2 ((position.x + 1.0) * 0.5, (1.0 - position.y) * 0.5);\n"
    "  if (mirror > 0.5)\n"
    "    t.x = 1.0 - t.x;\n"
    "  uv = t;\n"
    "}\n";

static const char fragment_source[] =
    "in vec2 uv;\n"
    "out vec4 color;\n"
    "uniform sampler2D tex_y;\n"
    "uniform sampler2D tex_u;\n"
    "uniform sampler2D tex_v;\n"
    "void main () {\n"
    "  float y = 1.164384 * (texture (tex_y, uv).r - 0.062745);\n"
    "  float u = texture (tex_u, uv).r - 0.501961;\n"
    "  float v = texture (tex_v, uv).r - 0.501961;\n"
    "  color = vec4 (y + 1.596027 * v, y - 0.391762 * u - 0.812968 * v, y + 2.017232 * u, 1.0);\n"
    "}\n";

static GLuint
compile_shader (GLenum type, gboolean es, const char *body, GError **error)
{
  const char *sources[3] = {
    es ? "#version 300 es\nprecision mediump float;\n" : "#version 150\n",
    body,
  };
  GLuint shader = glCreateShader (type);
  GLint ok = 0;

  glShaderSource (shader, 2, sources, NULL);
  glCompileShader (shader);
  glGetShaderiv (shader, GL_COMPILE_STATUS, &ok);
  if (!ok)
    {
      char log[512] = "";

      glGetShaderInfoLog (shader, sizeof log, NULL, log);
      g_set_error (error, GDK_GL_ERROR, GDK_GL_ERROR_COMPILATION_FAILED,
                   "shader did not compile: %s", log);
      glDeleteShader (shader);
      return 0;
    }
  return shader;
}

static gboolean
gl_setup (ConfabVideoGrid *self, gboolean es, GError **error)
{
  static const GLfloat quad[] = { -1, -1, 1, -1, -1, 1, 1, 1 };
  GLuint vertex, fragment;
  GLint ok = 0;

  vertex = compile_shader (GL_VERTEX_SHADER, es, vertex_source, error);
  if (vertex == 0)
    return FALSE;
  fragment = compile_shader (GL_FRAGMENT_SHADER, es, fragment_source, error);
  if (fragment == 0)
    {
      glDeleteShader (vertex);
      return FALSE;
    }
  self->program = glCreateProgram ();
  glAttachShader (self->program, vertex);
  glAttachShader (self->program, fragment);
  glBindAttribLocation (self->program, 0, "position");
  glLinkProgram (self->program);
  glDeleteShader (vertex);
  glDeleteShader (fragment);
  glGetProgramiv (self->program, GL_LINK_STATUS, &ok);
  if (!ok)
    {
      char log[512] = "";

      glGetProgramInfoLog (self->program, sizeof log, NULL, log);
      g_set_error (error, GDK_GL_ERROR, GDK_GL_ERROR_LINK_FAILED, "shaders did not link: %s", log);
      glDeleteProgram (self->program);
      self->program = 0;
      return FALSE;
    }
  glUseProgram (self->program);
  glUniform1i (glGetUniformLocation (self->program, "tex_y"), 0);
  glUniform1i (glGetUniformLocation (self->program, "tex_u"), 1);
  glUniform1i (glGetUniformLocation (self->program, "tex_v"), 2);
  self->mirror_location = glGetUniformLocation (self->program, "mirror");
  glUseProgram (0);

  glGenVertexArrays (1, &self->vao);
  glBindVertexArray (self->vao);
  glGenBuffers (1, &self->vbo);
  glBindBuffer (GL_ARRAY_BUFFER, self->vbo);
  glBufferData (GL_ARRAY_BUFFER, sizeof quad, quad, GL_STATIC_DRAW);
  glEnableVertexAttribArray (0);
  glVertexAttribPointer (0, 2, GL_FLOAT, GL_FALSE, 0, NULL);
  glBindVertexArray (0);
  glBindBuffer (GL_ARRAY_BUFFER, 0);
  return TRUE;
}

/* With the context current. */
static void
tile_release_textures (GridTile *tile)
{
  if (tile->textures[0] != 0)
    glDeleteTextures (3, tile->textures);
  memset (tile->textures, 0, sizeof tile->textures);
  tile->texture_width = tile->texture_height = 0;
  tile->has_picture = FALSE;
}

static void
on_gl_realize (GtkGLArea *area, ConfabVideoGrid *self)
{
  g_autoptr (GError) error = NULL;
  GdkGLContext *context;

  gtk_gl_area_make_current (area);
  if (gtk_gl_area_get_error (area) != NULL)
    {
      g_warning ("No GL for video: %s", gtk_gl_area_get_error (area)->message);
      return;
    }
  context = gtk_gl_area_get_context (area);
  if (!gl_setup (self, gdk_gl_context_get_use_es (context), &error))
    {
      g_warning ("No GL for video: %s", error->message);
      return;
    }
  self->gl_ready = TRUE;
}

static void
on_gl_unrealize (GtkGLArea *area, ConfabVideoGrid *self)
{
  gtk_gl_area_make_current (area);
  if (gtk_gl_area_get_error (area) == NULL)
    {
      for (guint i = 0; i < self->tiles->len; i++)
        tile_release_textures (g_ptr_array_index (self->tiles, i));
      if (self->vbo != 0)
        glDeleteBuffers (1, &self->vbo);
      if (self->vao != 0)
        glDeleteVertexArrays (1, &self->vao);
      if (self->program != 0)
        glDeleteProgram (self->program);
    }
  self->vbo = self->vao = self->program = 0;
  self->gl_ready = FALSE;
}

static gboolean
frame_is_usable (const ConfabVideoFrame *frame)
{
  return frame->format == CONFAB_PIXEL_FORMAT_I420 && frame->width > 0 && frame->height > 0 &&
         frame->strides[0] >= frame->width && frame->strides[1] >= (frame->width + 1) / 2 &&
         frame->strides[2] >= (frame->width + 1) / 2;
}

/* The three planes straight from the frame's memory into the tile's
 * textures; storage is only reallocated when the picture size changes. */
static void
tile_upload (GridTile *tile, const ConfabVideoFrame *frame)
{
  gboolean resize = frame->width != tile->texture_width || frame->height != tile->texture_height;

  if (tile->textures[0] == 0)
    {
      glGenTextures (3, tile->textures);
      for (guint p = 0; p < 3; p++)
        {
          glBindTexture (GL_TEXTURE_2D, tile->textures[p]);
          glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
          glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
          glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
          glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
        }
      resize = TRUE;
    }

  glPixelStorei (GL_UNPACK_ALIGNMENT, 1);
  for (guint p = 0; p < 3; p++)
    {
      int width = p == 0 ? frame->width : (frame->width + 1) / 2;
      int height = p == 0 ? frame->height : (frame->height + 1) / 2;

      glBindTexture (GL_TEXTURE_2D, tile->textures[p]);
      glPixelStorei (GL_UNPACK_ROW_LENGTH, frame->strides[p]);
      if (resize)
        glTexImage2D (GL_TEXTURE_2D, 0, GL_R8, width, height, 0, GL_RED, GL_UNSIGNED_BYTE,
                      frame->planes[p]);
      else
        glTexSubImage2D (GL_TEXTURE_2D, 0, 0, 0, width, height, GL_RED, GL_UNSIGNED_BYTE,
                         frame->planes[p]);
    }
  glPixelStorei (GL_UNPACK_ROW_LENGTH, 0);
  glBindTexture (GL_TEXTURE_2D, 0);
  tile->texture_width = frame->width;
  tile->texture_height = frame->height;
  tile->has_picture = TRUE;
  tile->frames_shown++;
}

/* @frame (owned) taken for @tile. A tile on screen keeps a picture that has
 * not been rendered yet as well, so every picture is shown even when two
 * arrive between renders (arrival jitter; decoding on threads): at most two
 * wait, a third drops the oldest. A hidden tile keeps only the newest. */
static void
tile_take (GridTile *tile, ConfabVideoFrame *frame, gboolean on_screen)
{
  if (tile->pending == NULL)
    {
      tile->pending = frame;
      return;
    }
  if (!on_screen)
    {
      g_clear_pointer (&tile->next, confab_video_frame_unref);
      confab_video_frame_unref (tile->pending);
      tile->pending = frame;
      return;
    }
  if (tile->next != NULL)
    {
      confab_video_frame_unref (tile->pending);
      tile->pending = tile->next;
    }
  tile->next = frame;
}

/* The pending picture has been rendered: the waiting one is next. */
static void
tile_shown (GridTile *tile)
{
  confab_video_frame_unref (tile->pending);
  tile->pending = g_steal_pointer (&tile->next);
}

static void
update_avatar (GridTile *tile)
{
  confab_participant_tile_set_show_avatar (tile->widget,
                                           !tile->video_enabled || !tile->has_picture);
}

static gboolean
on_gl_render (GtkGLArea *area, GdkGLContext *context, ConfabVideoGrid *self)
{
  int scale = gtk_widget_get_scale_factor (GTK_WIDGET (area));
  int fb_width = gtk_widget_get_width (GTK_WIDGET (area)) * scale;
  int fb_height = gtk_widget_get_height (GTK_WIDGET (area)) * scale;

  glDisable (GL_SCISSOR_TEST);
  glClearColor (0.0f, 0.0f, 0.0f, 0.0f);
  glClear (GL_COLOR_BUFFER_BIT);
  if (!self->gl_ready)
    return TRUE;

  glUseProgram (self->program);
  glBindVertexArray (self->vao);
  glEnable (GL_SCISSOR_TEST);
  for (guint i = 0; i < self->tiles->len; i++)
    {
      GridTile *tile = g_ptr_array_index (self->tiles, i);
      int x = tile->rect.x * scale;
      int y = fb_height - (tile->rect.y + tile->rect.height) * scale;
      int w = tile->rect.width * scale;
      int h = tile->rect.height * scale;
      int video_w, video_h;

      if (tile->rect.width <= 0 || tile->rect.height <= 0)
        continue;
      if (tile->pending != NULL)
        {
          gboolean had_picture = tile->has_picture;

          tile_upload (tile, tile->pending);
          tile_shown (tile);
          if (!had_picture)
            update_avatar (tile);
        }

      /* The tile's background, then the picture letterboxed inside it. */
      glScissor (x, y, w, h);
      glClearColor (0.14f, 0.14f, 0.16f, 1.0f);
      glClear (GL_COLOR_BUFFER_BIT);
      if (!tile->video_enabled || !tile->has_picture)
        continue;
      if ((gint64) tile->texture_width * h > (gint64) tile->texture_height * w)
        {
          video_w = w;
          video_h = (int) ((gint64) w * tile->texture_height / tile->texture_width);
        }
      else
        {
          video_h = h;
          video_w = (int) ((gint64) h * tile->texture_width / tile->texture_height);
        }
      glClearColor (0.0f, 0.0f, 0.0f, 1.0f);
      glClear (GL_COLOR_BUFFER_BIT);
      glViewport (x + (w - video_w) / 2, y + (h - video_h) / 2, video_w, video_h);
      glUniform1f (self->mirror_location, tile->mirror ? 1.0f : 0.0f);
      for (guint p = 0; p < 3; p++)
        {
          glActiveTexture (GL_TEXTURE0 + p);
          glBindTexture (GL_TEXTURE_2D, tile->textures[p]);
        }
      glDrawArrays (GL_TRIANGLE_STRIP, 0, 4);
    }
  for (guint p = 0; p < 3; p++)
    {
      glActiveTexture (GL_TEXTURE0 + p);
      glBindTexture (GL_TEXTURE_2D, 0);
    }
  glActiveTexture (GL_TEXTURE0);
  glDisable (GL_SCISSOR_TEST);
  glViewport (0, 0, fb_width, fb_height);
  glBindVertexArray (0);
  glUseProgram (0);
  return TRUE;
}

/* ---- software path --------------------------------------------------------------- */

/* Where GL is rasterised on the CPU (Mesa llvmpipe) a fragment costs far more
 * than a pixel converted by libswscale's SIMD code, and GSK already composites
 * the window: each picture is converted and scaled once, to the size it is
 * shown at, into a pooled buffer handed to GSK as a GdkMemoryTexture. */

struct _PixelPool
{
  grefcount ref;
  GPtrArray *free; /* PooledPixels *, returned by GSK when it drops a texture */
};

typedef struct
{
  PixelPool *pool;
  gsize size;
  guint8 *data;
} PooledPixels;

#define PIXEL_POOL_MAX_FREE 16

static void
pooled_pixels_free (gpointer data)
{
  PooledPixels *pixels = data;

  g_aligned_free (pixels->data);
  g_free (pixels);
}

static PixelPool *
pixel_pool_new (void)
{
  PixelPool *pool = g_new0 (PixelPool, 1);

  g_ref_count_init (&pool->ref);
  pool->free = g_ptr_array_new_with_free_func (pooled_pixels_free);
  return pool;
}

static void
pixel_pool_unref (PixelPool *pool)
{
  if (g_ref_count_dec (&pool->ref))
    {
      g_ptr_array_unref (pool->free);
      g_free (pool);
    }
}

static void
pooled_pixels_release (gpointer data)
{
  PooledPixels *pixels = data;
  PixelPool *pool = pixels->pool;

  pixels->pool = NULL;
  /* The oldest goes first: after a resize it is the wrong size for good. */
  if (pool->free->len >= PIXEL_POOL_MAX_FREE)
    g_ptr_array_remove_index (pool->free, 0);
  g_ptr_array_add (pool->free, pixels);
  pixel_pool_unref (pool);
}

static PooledPixels *
pixel_pool_take (PixelPool *pool, gsize size)
{
  PooledPixels *pixels = NULL;

  for (guint i = 0; i < pool->free->len; i++)
    if (((PooledPixels *) g_ptr_array_index (pool->free, i))->size == size)
      {
        pixels = g_ptr_array_steal_index (pool->free, i);
        break;
      }
  if (pixels == NULL)
    {
      pixels = g_new0 (PooledPixels, 1);
      pixels->size = size;
      pixels->data = g_aligned_alloc (1, size, 64);
    }
  g_ref_count_inc (&pool->ref);
  pixels->pool = pool;
  return pixels;
}

/* The letterboxed rectangle of a width x height picture inside w x h. */
static void
fit_picture (int width, int height, int w, int h, int *video_w, int *video_h)
{
  if ((gint64) width * h > (gint64) height * w)
    {
      *video_w = w;
      *video_h = MAX (1, (int) ((gint64) w * height / width));
    }
  else
    {
      *video_h = h;
      *video_w = MAX (1, (int) ((gint64) h * width / height));
    }
}

/* The size in device pixels a picture is converted to for a tile: letterboxed
 * in the tile, width and height made even. libswscale (FFmpeg 5.1) converts to
 * an odd width 3-5 times slower than to the even width one pixel less (640x360
 * to 225 wide 0.41 ms, to 226 wide 0.09 ms; 305: 0.68 / 306: 0.15 ms), and
 * scaling in YUV to an odd height leaves the chroma planes a fraction of a
 * row (confab_picture_scaler_convert(): 464x261 0.28 ms, 464x260 0.13); the
 * lost column or row is letterbox. */
static void
tile_picture_size (
    const GridTile *tile, int width, int height, int scale, int *video_w, int *video_h)
{
  fit_picture (width, height, tile->rect.width * scale, tile->rect.height * scale, video_w,
               video_h);
  if (*video_w > 2)
    *video_w &= ~1;
  if (*video_h > 2)
    *video_h &= ~1;
}

/* The pending picture converted and scaled to the tile's size on screen. */
static void
tile_convert (ConfabVideoGrid *self, GridTile *tile, const ConfabVideoFrame *frame)
{
  int scale = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  int video_w, video_h, stride;
  g_autoptr (GBytes) bytes = NULL;
  PooledPixels *pixels;
  gsize size;

  tile_picture_size (tile, frame->width, frame->height, scale, &video_w, &video_h);
  /* Shown larger than it is: converted at its own size and scaled up when
   * GSK composites it (pixman's bilinear, one pass with the copy into the
   * window). libswscale's scaling up costs 12 times its plain conversion
   * (640x360 to 930x520 BGR24: 0.97 ms; at its own size: 0.09 ms) and GTK
   * then copies the 2.1 times larger picture into a cairo surface: per
   * picture 1.46 ms of conversion, copies and compositing became 0.93 ms.
   * Scaled down, libswscale stays (cairo's downscaling filter is slower). */
  if (video_w >= frame->width && video_h >= frame->height)
    {
      video_w = frame->width;
      video_h = frame->height;
    }
  if (tile->scaler == NULL)
    tile->scaler = confab_picture_scaler_new ();
  size = confab_picture_scaler_bgr_size (video_w, video_h, &stride);
  pixels = pixel_pool_take (self->pool, size);
  if (!confab_picture_scaler_convert (tile->scaler, frame, video_w, video_h, pixels->data, stride))
    {
      pooled_pixels_release (pixels);
      return;
    }
  bytes = g_bytes_new_with_free_func (pixels->data, pixels->size, pooled_pixels_release, pixels);
  g_set_object (&tile->texture, NULL);
  /* Opaque BGR: GTK 4.8 turns it into cairo's ARGB32 with a plain copy loop
   * (ARGB32 itself goes through floats there: no same-format shortcut). */
  tile->texture = gdk_memory_texture_new (video_w, video_h, GDK_MEMORY_B8G8R8, bytes, stride);
  tile->texture_width = frame->width;
  tile->texture_height = frame->height;
  tile->has_picture = TRUE;
  tile->frames_shown++;
}

static void
snapshot_letterbox (GtkSnapshot *snapshot,
                    const graphene_rect_t *tile,
                    float left,
                    float top,
                    float video_w,
                    float video_h)
{
  const GdkRGBA black = { 0.0f, 0.0f, 0.0f, 1.0f };
  float right = tile->size.width - left - video_w;
  float bottom = tile->size.height - top - video_h;
  float x = tile->origin.x, y = tile->origin.y;

  if (top > 0)
    gtk_snapshot_append_color (snapshot, &black, &GRAPHENE_RECT_INIT (x, y, tile->size.width, top));
  if (bottom > 0)
    gtk_snapshot_append_color (
        snapshot, &black, &GRAPHENE_RECT_INIT (x, y + top + video_h, tile->size.width, bottom));
  if (left > 0)
    gtk_snapshot_append_color (snapshot, &black, &GRAPHENE_RECT_INIT (x, y + top, left, video_h));
  if (right > 0)
    gtk_snapshot_append_color (snapshot, &black,
                               &GRAPHENE_RECT_INIT (x + left + video_w, y + top, right, video_h));
}

static void
snapshot_tiles (ConfabVideoGrid *self, GtkSnapshot *snapshot)
{
  int scale = gtk_widget_get_scale_factor (GTK_WIDGET (self));

  for (guint i = 0; i < self->tiles->len; i++)
    {
      GridTile *tile = g_ptr_array_index (self->tiles, i);
      graphene_rect_t bounds =
          GRAPHENE_RECT_INIT (tile->rect.x, tile->rect.y, tile->rect.width, tile->rect.height);
      int device_w, device_h;
      float video_w, video_h, left, top;

      if (tile->rect.width <= 0 || tile->rect.height <= 0)
        continue;
      if (!tile->video_enabled || tile->texture == NULL)
        {
          gtk_snapshot_append_color (snapshot, &(GdkRGBA){ 0.14f, 0.14f, 0.16f, 1.0f }, &bounds);
          continue;
        }
      /* The size tile_convert() scaled a picture down to, so it is drawn
       * pixel for pixel (cairo's downscaling is slow; after a resize, until
       * the next picture, it is scaled); a picture shown larger than it is
       * comes at its own size and GSK scales it up. */
      tile_picture_size (tile, tile->texture_width, tile->texture_height, scale, &device_w,
                         &device_h);
      video_w = (float) device_w / scale;
      video_h = (float) device_h / scale;
      left = (float) ((tile->rect.width * scale - device_w) / 2) / scale;
      top = (float) ((tile->rect.height * scale - device_h) / 2) / scale;
      /* Black bars only where the picture leaves the tile uncovered, not a
       * tile-sized fill under it. */
      snapshot_letterbox (snapshot, &bounds, left, top, video_w, video_h);
      gtk_snapshot_save (snapshot);
      gtk_snapshot_translate (snapshot,
                              &GRAPHENE_POINT_INIT (tile->rect.x + left, tile->rect.y + top));
      if (tile->mirror)
        {
          gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (video_w, 0));
          gtk_snapshot_scale (snapshot, -1.0f, 1.0f);
        }
      gtk_snapshot_append_texture (snapshot, tile->texture,
                                   &GRAPHENE_RECT_INIT (0, 0, video_w, video_h));
      gtk_snapshot_restore (snapshot);
    }
}

static void
confab_video_grid_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  ConfabVideoGrid *self = CONFAB_VIDEO_GRID (widget);

  if (self->cpu_path)
    snapshot_tiles (self, snapshot);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    gtk_widget_snapshot_child (widget, child, snapshot);
}

/* GL draws the pictures when GTK composites the window with GL (the GL
 * area's texture is drawn as it is). With any other renderer (cairo, chosen
 * by confab_renderer_choose() where GL is software) the GL area's pixels
 * would be read back every frame, so the CPU converts them instead. */
static gboolean
want_cpu_path (ConfabVideoGrid *self)
{
  GtkNative *native = gtk_widget_get_native (GTK_WIDGET (self));

  return native == NULL || !GSK_IS_GL_RENDERER (gtk_native_get_renderer (native));
}

/* ---- pictures ------------------------------------------------------------------- */

static gboolean
tile_on_screen (const GridTile *tile)
{
  return tile->rect.width > 0 && tile->rect.height > 0;
}

/* A picture waits to be shown in @tile. */
static gboolean
tile_waiting (const GridTile *tile)
{
  return tile->pending != NULL && tile_on_screen (tile) && tile->video_enabled;
}

/* On the frame clock while pictures arrive (wake_tick()): take what is new
 * from tiles on screen (hidden ones rarely) and render only when something
 * new will be shown. With nothing left waiting it stops, so a grid whose
 * peers send no video costs no frame-clock cycles (a 60 Hz tick that found
 * nothing cost the frame clock's work and, without a window manager, two X
 * round trips per cycle). */
static gboolean
on_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  ConfabVideoGrid *self = CONFAB_VIDEO_GRID (widget);
  gint64 now = gdk_frame_clock_get_frame_time (clock);
  gboolean render = FALSE;
  gboolean urgent = FALSE;

  for (guint i = 0; i < self->tiles->len; i++)
    {
      GridTile *tile = g_ptr_array_index (self->tiles, i);
      gboolean on_screen = tile_on_screen (tile);
      ConfabVideoFrame *frame;

      if (tile->take != NULL && tile->video_enabled &&
          (on_screen || now - tile->last_pull_us >= HIDDEN_PULL_INTERVAL_US))
        {
          tile->last_pull_us = now;
          frame = tile->take (tile->take_data, tile->id);
          if (frame != NULL && !frame_is_usable (frame))
            g_clear_pointer (&frame, confab_video_frame_unref);
          if (frame != NULL)
            tile_take (tile, frame, on_screen);
        }
      if (tile_waiting (tile))
        {
          render = TRUE;
          if (tile->next != NULL)
            urgent = TRUE;
        }
    }
  /* Pending pictures wait for a later tick when the render credit is short,
   * unless a newer one of the same tile already waits behind one: that one
   * would be dropped by the next picture, so render now. */
  if (render && confab_render_pacer_render (&self->pacer, now, urgent))
    {
      if (!self->cpu_path)
        gtk_gl_area_queue_render (GTK_GL_AREA (self->gl_area));
      for (guint i = 0; self->cpu_path && i < self->tiles->len; i++)
        {
          GridTile *tile = g_ptr_array_index (self->tiles, i);
          gboolean had_picture = tile->has_picture;

          if (tile->pending == NULL || !tile_on_screen (tile) || !tile->video_enabled)
            continue;
          tile_convert (self, tile, tile->pending);
          tile_shown (tile);
          if (!had_picture)
            update_avatar (tile);
        }
      if (self->cpu_path)
        gtk_widget_queue_draw (widget);
    }
  /* Still waiting: a picture held back by the render cap, or the second of
   * a tile (shown on a later tick). */
  for (guint i = 0; i < self->tiles->len; i++)
    {
      GridTile *tile = g_ptr_array_index (self->tiles, i);

      if (tile_waiting (tile))
        return G_SOURCE_CONTINUE;
    }
  self->tick_id = 0;
  return G_SOURCE_REMOVE;
}

/* ---- video demand: hidden tiles' video decoded at key frames only ---------------- */

static gboolean window_shows_grid (ConfabVideoGrid *self);
static GridTile *find_tile (ConfabVideoGrid *self, guint64 id, guint *index);

/* Whether a person can see any of @tile now. */
static gboolean
tile_visible (ConfabVideoGrid *self, const GridTile *tile)
{
  graphene_rect_t cover;

  if (!tile_on_screen (tile) || !window_shows_grid (self))
    return FALSE;
  if (self->cover != NULL && gtk_widget_get_mapped (self->cover) &&
      gtk_widget_compute_bounds (self->cover, GTK_WIDGET (self), &cover))
    {
      graphene_rect_t rect, under;

      /* (Nearly) all under the panel (a folded side panel slid over the
       * grid): a sliver at the edge shows nobody. */
      graphene_rect_init (&rect, tile->rect.x, tile->rect.y, tile->rect.width, tile->rect.height);
      if (graphene_rect_intersection (&rect, &cover, &under) &&
          under.size.width * under.size.height >= 0.9f * rect.size.width * rect.size.height)
        return FALSE;
    }
  return TRUE;
}

static gboolean on_demand_timer (gpointer data);

/* Tells the session which participants' video is seen: at once when a tile
 * shows (a key frame is asked for), after HIDE_DELAY_US of being hidden
 * otherwise. Cheap; runs on layout, map, window state and cover changes. */
static void
update_demand (ConfabVideoGrid *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 next = -1;

  for (guint i = 0; i < self->tiles->len; i++)
    {
      GridTile *tile = g_ptr_array_index (self->tiles, i);

      /* Only the call's participants: our camera is pushed, not decoded. */
      if (self->session == NULL || tile->mirror || tile->take == NULL)
        continue;
      if (tile_visible (self, tile))
        {
          tile->hidden_since_us = 0;
          if (!tile->wanted)
            {
              tile->wanted = TRUE;
              confab_call_session_set_video_wanted (self->session, tile->id, TRUE);
            }
          continue;
        }
      if (!tile->wanted)
        continue;
      if (tile->hidden_since_us == 0)
        tile->hidden_since_us = now;
      if (now - tile->hidden_since_us >= HIDE_DELAY_US)
        {
          tile->wanted = FALSE;
          confab_call_session_set_video_wanted (self->session, tile->id, FALSE);
        }
      else if (next < 0 || tile->hidden_since_us + HIDE_DELAY_US < next)
        next = tile->hidden_since_us + HIDE_DELAY_US;
    }
  g_clear_handle_id (&self->demand_timer, g_source_remove);
  if (next >= 0)
    self->demand_timer = g_timeout_add ((guint) ((next - now + 999) / 1000), on_demand_timer, self);
}

static gboolean
on_demand_timer (gpointer data)
{
  ConfabVideoGrid *self = data;

  self->demand_timer = 0;
  update_demand (self);
  return G_SOURCE_REMOVE;
}

/* The grid is in a mapped window that is not minimized. */
static gboolean
window_shows_grid (ConfabVideoGrid *self)
{
  if (!gtk_widget_get_mapped (GTK_WIDGET (self)) || self->surface == NULL ||
      !gdk_surface_get_mapped (self->surface))
    return FALSE;
  return !GDK_IS_TOPLEVEL (self->surface) ||
         !(gdk_toplevel_get_state (GDK_TOPLEVEL (self->surface)) & GDK_TOPLEVEL_STATE_MINIMIZED);
}

static void
on_surface_changed (GdkSurface *surface, GParamSpec *pspec, ConfabVideoGrid *self)
{
  update_demand (self);
}

static void
watch_surface (ConfabVideoGrid *self, gboolean watch)
{
  GtkNative *native = gtk_widget_get_native (GTK_WIDGET (self));
  GdkSurface *surface = watch && native != NULL ? gtk_native_get_surface (native) : NULL;

  if (surface == self->surface)
    return;
  if (self->surface != NULL)
    g_signal_handlers_disconnect_by_data (self->surface, self);
  g_set_object (&self->surface, surface);
  if (surface == NULL)
    return;
  g_signal_connect (surface, "notify::mapped", G_CALLBACK (on_surface_changed), self);
  if (GDK_IS_TOPLEVEL (surface))
    g_signal_connect (surface, "notify::state", G_CALLBACK (on_surface_changed), self);
}

void
confab_video_grid_set_cover (ConfabVideoGrid *self, GtkWidget *cover)
{
  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));
  g_return_if_fail (cover == NULL || GTK_IS_WIDGET (cover));
  /* Also when it is the same widget: it may have moved (sliding in). */
  g_set_weak_pointer (&self->cover, cover);
  update_demand (self);
}

gboolean
confab_video_grid_get_video_wanted (ConfabVideoGrid *self, guint64 id)
{
  GridTile *tile;

  g_return_val_if_fail (CONFAB_IS_VIDEO_GRID (self), FALSE);
  tile = find_tile (self, id, NULL);
  return tile != NULL && tile->wanted;
}

/* Runs the tick (for one frame-clock cycle at least) when it could find
 * something: a picture arrived, a tile came on screen or was added, the
 * window was mapped. */
static void
wake_tick (ConfabVideoGrid *self)
{
  if (self->tick_id == 0 && gtk_widget_get_mapped (GTK_WIDGET (self)) && self->tiles->len > 0)
    self->tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), on_tick, NULL, NULL);
}

static void
update_tick (ConfabVideoGrid *self)
{
  if (gtk_widget_get_mapped (GTK_WIDGET (self)) && self->tiles->len > 0)
    wake_tick (self);
  else if (self->tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
      self->tick_id = 0;
    }
}

/* ---- tiles -------------------------------------------------------------------- */

static GridTile *
find_tile (ConfabVideoGrid *self, guint64 id, guint *index)
{
  for (guint i = 0; i < self->tiles->len; i++)
    {
      GridTile *tile = g_ptr_array_index (self->tiles, i);

      if (tile->id == id)
        {
          if (index != NULL)
            *index = i;
          return tile;
        }
    }
  return NULL;
}

static void
grid_tile_free (gpointer data)
{
  GridTile *tile = data;

  g_clear_pointer (&tile->pending, confab_video_frame_unref);
  g_clear_pointer (&tile->next, confab_video_frame_unref);
  g_clear_object (&tile->texture);
  g_clear_pointer (&tile->scaler, confab_picture_scaler_free);
  /* Textures go with the context (unrealize) or in confab_video_grid_remove(). */
  if (tile->widget != NULL)
    gtk_widget_unparent (GTK_WIDGET (tile->widget));
  g_free (tile);
}

ConfabParticipantTile *
confab_video_grid_add (ConfabVideoGrid *self, guint64 id, const char *name, gboolean mirror)
{
  GridTile *tile;

  g_return_val_if_fail (CONFAB_IS_VIDEO_GRID (self), NULL);

  tile = find_tile (self, id, NULL);
  if (tile != NULL)
    return tile->widget;
  tile = g_new0 (GridTile, 1);
  tile->id = id;
  tile->mirror = mirror;
  tile->video_enabled = TRUE;
  tile->wanted = TRUE; /* as the call starts every peer */
  tile->widget = CONFAB_PARTICIPANT_TILE (confab_participant_tile_new (id, name));
  confab_participant_tile_set_is_self (tile->widget, mirror);
  confab_participant_tile_set_pinned (tile->widget, self->has_pinned && self->pinned_id == id);
  gtk_widget_insert_before (GTK_WIDGET (tile->widget), GTK_WIDGET (self), self->view_button);
  g_ptr_array_add (self->tiles, tile);
  update_avatar (tile);
  update_tick (self);
  gtk_widget_queue_allocate (GTK_WIDGET (self));
  return tile->widget;
}

void
confab_video_grid_remove (ConfabVideoGrid *self, guint64 id)
{
  GridTile *tile;
  guint index;

  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));

  tile = find_tile (self, id, &index);
  if (tile == NULL)
    return;
  if (tile->textures[0] != 0 && gtk_widget_get_realized (self->gl_area))
    {
      gtk_gl_area_make_current (GTK_GL_AREA (self->gl_area));
      tile_release_textures (tile);
    }
  if (self->has_pinned && self->pinned_id == id)
    self->has_pinned = FALSE;
  g_ptr_array_remove_index (self->tiles, index);
  update_tick (self);
  gtk_widget_queue_allocate (GTK_WIDGET (self));
  gtk_gl_area_queue_render (GTK_GL_AREA (self->gl_area));
}

void
confab_video_grid_clear (ConfabVideoGrid *self)
{
  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));

  while (self->tiles->len > 0)
    confab_video_grid_remove (self, ((GridTile *) g_ptr_array_index (self->tiles, 0))->id);
  self->has_active_speaker = FALSE;
}

guint
confab_video_grid_get_n_tiles (ConfabVideoGrid *self)
{
  g_return_val_if_fail (CONFAB_IS_VIDEO_GRID (self), 0);
  return self->tiles->len;
}

ConfabParticipantTile *
confab_video_grid_lookup (ConfabVideoGrid *self, guint64 id)
{
  GridTile *tile;

  g_return_val_if_fail (CONFAB_IS_VIDEO_GRID (self), NULL);
  tile = find_tile (self, id, NULL);
  return tile != NULL ? tile->widget : NULL;
}

void
confab_video_grid_set_source (ConfabVideoGrid *self,
                              guint64 id,
                              ConfabVideoTakeFunc take,
                              gpointer take_data)
{
  GridTile *tile;

  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));
  tile = find_tile (self, id, NULL);
  if (tile == NULL)
    return;
  tile->take = take;
  tile->take_data = take_data;
}

void
confab_video_grid_push_frame (ConfabVideoGrid *self, guint64 id, ConfabVideoFrame *frame)
{
  GridTile *tile;

  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));
  g_return_if_fail (frame != NULL);
  tile = find_tile (self, id, NULL);
  if (tile == NULL || !tile->video_enabled || !frame_is_usable (frame))
    return;
  /* The tick renders it (on screen) or keeps it for later (hidden). */
  tile_take (tile, confab_video_frame_ref (frame), tile_on_screen (tile));
  wake_tick (self);
}

void
confab_video_grid_set_video_enabled (ConfabVideoGrid *self, guint64 id, gboolean enabled)
{
  GridTile *tile;

  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));
  tile = find_tile (self, id, NULL);
  if (tile == NULL || tile->video_enabled == !!enabled)
    return;
  tile->video_enabled = !!enabled;
  if (!enabled)
    {
      /* The next picture after the camera comes back, not a stale one. */
      g_clear_pointer (&tile->pending, confab_video_frame_unref);
      g_clear_pointer (&tile->next, confab_video_frame_unref);
      g_clear_object (&tile->texture);
      tile->has_picture = FALSE;
    }
  update_avatar (tile);
  wake_tick (self);
  gtk_gl_area_queue_render (GTK_GL_AREA (self->gl_area));
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint64
confab_video_grid_get_frames_shown (ConfabVideoGrid *self, guint64 id)
{
  GridTile *tile;

  g_return_val_if_fail (CONFAB_IS_VIDEO_GRID (self), 0);
  tile = find_tile (self, id, NULL);
  return tile != NULL ? tile->frames_shown : 0;
}

/* ---- speaker view and pin ----------------------------------------------------- */

static void
update_view_button (ConfabVideoGrid *self)
{
  gtk_button_set_icon_name (GTK_BUTTON (self->view_button),
                            self->speaker_view ? "view-grid-symbolic" : "view-dual-symbolic");
  gtk_widget_set_tooltip_text (self->view_button,
                               self->speaker_view ? _ ("Grid View") : _ ("Speaker View"));
}

void
confab_video_grid_set_speaker_view (ConfabVideoGrid *self, gboolean speaker_view)
{
  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));
  if (self->speaker_view == !!speaker_view)
    return;
  self->speaker_view = !!speaker_view;
  if (!speaker_view)
    confab_video_grid_unpin (self);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->view_button), self->speaker_view);
  update_view_button (self);
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

gboolean
confab_video_grid_get_speaker_view (ConfabVideoGrid *self)
{
  g_return_val_if_fail (CONFAB_IS_VIDEO_GRID (self), FALSE);
  return self->speaker_view;
}

void
confab_video_grid_set_active_speaker (ConfabVideoGrid *self, guint64 id)
{
  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));
  if (self->has_active_speaker && self->active_speaker_id == id)
    return;
  self->has_active_speaker = TRUE;
  self->active_speaker_id = id;
  if (self->speaker_view && !self->has_pinned)
    gtk_widget_queue_allocate (GTK_WIDGET (self));
}

static void
set_pinned (ConfabVideoGrid *self, gboolean has_pinned, guint64 id)
{
  for (guint i = 0; i < self->tiles->len; i++)
    {
      GridTile *tile = g_ptr_array_index (self->tiles, i);

      confab_participant_tile_set_pinned (tile->widget, has_pinned && tile->id == id);
    }
  self->has_pinned = has_pinned;
  self->pinned_id = id;
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

void
confab_video_grid_pin (ConfabVideoGrid *self, guint64 id)
{
  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));
  if (find_tile (self, id, NULL) == NULL)
    return;
  if (self->has_pinned && self->pinned_id == id)
    {
      confab_video_grid_unpin (self);
      return;
    }
  set_pinned (self, TRUE, id);
  confab_video_grid_set_speaker_view (self, TRUE);
}

void
confab_video_grid_unpin (ConfabVideoGrid *self)
{
  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));
  if (self->has_pinned)
    set_pinned (self, FALSE, 0);
}

void
confab_video_grid_set_show_view_toggle (ConfabVideoGrid *self, gboolean show)
{
  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));
  gtk_widget_set_visible (self->view_button, show);
}

static void
pin_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  confab_video_grid_pin (CONFAB_VIDEO_GRID (widget), g_variant_get_uint64 (parameter));
}

static void
on_view_toggled (GtkToggleButton *button, ConfabVideoGrid *self)
{
  confab_video_grid_set_speaker_view (self, gtk_toggle_button_get_active (button));
}

/* ---- layout ------------------------------------------------------------------- */

/* Speaker view's large tile: the pinned one, else the active speaker, else
 * the first one that is not ourselves. */
static GridTile *
main_tile (ConfabVideoGrid *self)
{
  GridTile *first_other = NULL;

  for (guint i = 0; i < self->tiles->len; i++)
    {
      GridTile *tile = g_ptr_array_index (self->tiles, i);

      if (self->has_pinned && tile->id == self->pinned_id)
        return tile;
      if (first_other == NULL && !tile->mirror)
        first_other = tile;
    }
  if (self->has_active_speaker)
    {
      GridTile *tile = find_tile (self, self->active_speaker_id, NULL);

      if (tile != NULL)
        return tile;
    }
  return first_other != NULL ? first_other : g_ptr_array_index (self->tiles, 0);
}

/* After the layout, not inside it: resizing an avatar queues a resize. */
static gboolean
apply_avatar_sizes (gpointer data)
{
  ConfabVideoGrid *self = data;

  self->avatar_idle = 0;
  for (guint i = 0; i < self->tiles->len; i++)
    {
      GridTile *tile = g_ptr_array_index (self->tiles, i);

      if (tile->avatar_size > 0 && tile->avatar_size != tile->avatar_size_set)
        {
          confab_participant_tile_set_avatar_size (tile->widget, tile->avatar_size);
          tile->avatar_size_set = tile->avatar_size;
        }
    }
  return G_SOURCE_REMOVE;
}

static void
confab_video_grid_measure (GtkWidget *widget,
                           GtkOrientation orientation,
                           int for_size,
                           int *minimum,
                           int *natural,
                           int *minimum_baseline,
                           int *natural_baseline)
{
  /* Any size will do (the layout scales tiles); a sensible one by default. */
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 160 : 90;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 640 : 360;
}

static void
confab_video_grid_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  ConfabVideoGrid *self = CONFAB_VIDEO_GRID (widget);
  guint n = self->tiles->len;
  ConfabGridRect *rects;
  int button_w, button_h;

  gtk_widget_size_allocate (self->gl_area, &(GtkAllocation){ 0, 0, width, height }, -1);

  g_ptr_array_set_size (self->order, 0);
  g_array_set_size (self->rects, n);
  rects = (ConfabGridRect *) (void *) self->rects->data;
  if (n > 0)
    {
      if (self->speaker_view && n > 1)
        {
          GridTile *first = main_tile (self);

          g_ptr_array_add (self->order, first);
          for (guint i = 0; i < n; i++)
            if (g_ptr_array_index (self->tiles, i) != first)
              g_ptr_array_add (self->order, g_ptr_array_index (self->tiles, i));
          confab_grid_layout_speaker (n, width - 2 * SPACING, height - 2 * SPACING, SPACING,
                                      MIN_STRIP_WIDTH, rects);
        }
      else
        {
          ConfabGridLayout layout;

          for (guint i = 0; i < n; i++)
            g_ptr_array_add (self->order, g_ptr_array_index (self->tiles, i));
          confab_grid_layout_compute (n, width - 2 * SPACING, height - 2 * SPACING, SPACING,
                                      CONFAB_GRID_ASPECT_WIDTH, CONFAB_GRID_ASPECT_HEIGHT, &layout);
          confab_grid_layout_place (&layout, n, width - 2 * SPACING, height - 2 * SPACING, SPACING,
                                    rects);
        }
    }

  for (guint i = 0; i < n; i++)
    {
      GridTile *tile = g_ptr_array_index (self->order, i);
      ConfabGridRect rect = rects[i];
      gboolean was_on_screen = tile_on_screen (tile);

      if (rect.width > 0 && rect.height > 0)
        {
          rect.x += SPACING;
          rect.y += SPACING;
        }
      tile->rect = rect;
      /* Only on a change: it queues a resize, which inside an allocation
       * leaves the tile without one when it is drawn. */
      if (gtk_widget_get_child_visible (GTK_WIDGET (tile->widget)) != tile_on_screen (tile))
        gtk_widget_set_child_visible (GTK_WIDGET (tile->widget), tile_on_screen (tile));
      if (!tile_on_screen (tile))
        continue;
      /* Back on screen: take a picture at once rather than within a second. */
      if (!was_on_screen)
        {
          tile->last_pull_us = 0;
          wake_tick (self);
        }
      tile->avatar_size = CLAMP (rect.height / 2, 24, 160);
      if (tile->avatar_size != tile->avatar_size_set && self->avatar_idle == 0)
        self->avatar_idle = g_idle_add (apply_avatar_sizes, self);
      gtk_widget_size_allocate (GTK_WIDGET (tile->widget),
                                &(GtkAllocation){ rect.x, rect.y, rect.width, rect.height }, -1);
    }

  gtk_widget_measure (self->view_button, GTK_ORIENTATION_HORIZONTAL, -1, NULL, &button_w, NULL,
                      NULL);
  gtk_widget_measure (self->view_button, GTK_ORIENTATION_VERTICAL, -1, NULL, &button_h, NULL, NULL);
  if (gtk_widget_get_child_visible (self->view_button) != (n > 1))
    gtk_widget_set_child_visible (self->view_button, n > 1);
  gtk_widget_size_allocate (self->view_button,
                            &(GtkAllocation){ 2 * SPACING, 2 * SPACING, button_w, button_h }, -1);
  gtk_gl_area_queue_render (GTK_GL_AREA (self->gl_area));
  update_demand (self);
}

/* ---- a call session's participants ----------------------------------------------- */

static ConfabVideoFrame *
take_from_session (gpointer data, guint64 id)
{
  return confab_call_session_take_video_frame (CONFAB_CALL_SESSION (data), id);
}

static void
on_participant_changed (ConfabCallSession *session, guint64 id, ConfabVideoGrid *self)
{
  ConfabParticipantTile *tile = confab_video_grid_lookup (self, id);
  gboolean video = TRUE, audio = TRUE;
  ConfabLinkQuality quality = CONFAB_LINK_QUALITY_UNKNOWN;

  if (tile == NULL || !confab_call_session_get_participant (session, id, &video, &audio, &quality))
    return;
  confab_video_grid_set_video_enabled (self, id, video);
  confab_participant_tile_set_audio_enabled (tile, audio);
  confab_participant_tile_set_quality (tile, (ConfabTileQuality) quality);
  if (confab_call_session_get_participant_speaking (session, id))
    {
      confab_participant_tile_set_speaking (tile, TRUE);
      /* The last one to start speaking is large in speaker view. */
      confab_video_grid_set_active_speaker (self, id);
    }
  else
    confab_participant_tile_set_speaking (tile, FALSE);
}

static void
on_participant_added (ConfabCallSession *session,
                      guint64 id,
                      const char *name,
                      ConfabVideoGrid *self)
{
  confab_video_grid_add (self, id, name, FALSE);
  confab_video_grid_set_source (self, id, take_from_session, session);
  on_participant_changed (session, id, self);
}

static void
on_participant_removed (ConfabCallSession *session,
                        guint64 id,
                        gboolean replaced,
                        ConfabVideoGrid *self)
{
  confab_video_grid_remove (self, id);
}

static void
on_camera_frame (ConfabCallSession *session, ConfabVideoFrame *frame, ConfabVideoGrid *self)
{
  confab_video_grid_push_frame (self, CONFAB_VIDEO_GRID_SELF_ID, frame);
}

static void
update_self (ConfabVideoGrid *self)
{
  ConfabParticipantTile *tile = confab_video_grid_lookup (self, CONFAB_VIDEO_GRID_SELF_ID);
  const char *problem = confab_call_session_get_camera_problem (self->session);
  gboolean camera = confab_call_session_get_camera (self->session);

  if (tile == NULL)
    return;
  confab_video_grid_set_video_enabled (self, CONFAB_VIDEO_GRID_SELF_ID, camera && problem == NULL);
  confab_participant_tile_set_audio_enabled (tile,
                                             confab_call_session_get_microphone (self->session));
  confab_participant_tile_set_status (tile, camera ? problem : NULL);
  confab_participant_tile_set_speaking (tile, confab_call_session_get_speaking (self->session));
}

static void
on_camera_changed (ConfabCallSession *session, ConfabVideoGrid *self)
{
  update_self (self);
}

static void
on_joined (ConfabCallSession *session, ConfabVideoGrid *self)
{
  g_autofree char *name =
      g_strdup_printf (_ ("%s (You)"), confab_call_session_get_user_id (session));

  ConfabParticipantTile *tile = confab_video_grid_add (self, CONFAB_VIDEO_GRID_SELF_ID, name, TRUE);

  confab_participant_tile_set_avatar_text (tile, confab_call_session_get_user_id (session));
  update_self (self);
}

void
confab_video_grid_bind_session (ConfabVideoGrid *self, ConfabCallSession *session)
{
  g_return_if_fail (CONFAB_IS_VIDEO_GRID (self));
  g_return_if_fail (session == NULL || CONFAB_IS_CALL_SESSION (session));

  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session, self);
      confab_video_grid_clear (self);
      g_clear_object (&self->session);
    }
  confab_video_grid_set_speaker_view (self, FALSE);
  if (session == NULL)
    return;
  self->session = g_object_ref (session);
  g_signal_connect (session, "joined", G_CALLBACK (on_joined), self);
  g_signal_connect (session, "participant-added", G_CALLBACK (on_participant_added), self);
  g_signal_connect (session, "participant-removed", G_CALLBACK (on_participant_removed), self);
  g_signal_connect (session, "participant-changed", G_CALLBACK (on_participant_changed), self);
  g_signal_connect (session, "camera-frame", G_CALLBACK (on_camera_frame), self);
  g_signal_connect_swapped (session, "video-frame", G_CALLBACK (wake_tick), self);
  g_signal_connect (session, "camera-changed", G_CALLBACK (on_camera_changed), self);
}

/* ---- GObject ---------------------------------------------------------------------- */

GtkWidget *
confab_video_grid_new (void)
{
  return g_object_new (CONFAB_TYPE_VIDEO_GRID, NULL);
}

static void
confab_video_grid_realize (GtkWidget *widget)
{
  ConfabVideoGrid *self = CONFAB_VIDEO_GRID (widget);

  GTK_WIDGET_CLASS (confab_video_grid_parent_class)->realize (widget);
  self->cpu_path = want_cpu_path (self);
  g_debug ("pictures %s", self->cpu_path ? "converted on the CPU" : "drawn with GL");
  gtk_widget_set_child_visible (self->gl_area, !self->cpu_path);
}

static void
confab_video_grid_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (confab_video_grid_parent_class)->map (widget);
  update_tick (CONFAB_VIDEO_GRID (widget));
  watch_surface (CONFAB_VIDEO_GRID (widget), TRUE);
  update_demand (CONFAB_VIDEO_GRID (widget));
}

static void
confab_video_grid_unmap (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (confab_video_grid_parent_class)->unmap (widget);
  update_tick (CONFAB_VIDEO_GRID (widget));
  watch_surface (CONFAB_VIDEO_GRID (widget), FALSE);
  update_demand (CONFAB_VIDEO_GRID (widget));
}

static void
confab_video_grid_dispose (GObject *object)
{
  ConfabVideoGrid *self = CONFAB_VIDEO_GRID (object);

  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  g_clear_handle_id (&self->avatar_idle, g_source_remove);
  g_clear_handle_id (&self->demand_timer, g_source_remove);
  watch_surface (self, FALSE);
  g_clear_weak_pointer (&self->cover);
  g_clear_pointer (&self->gl_area, gtk_widget_unparent);
  if (self->tiles != NULL)
    g_ptr_array_set_size (self->tiles, 0);
  g_clear_pointer (&self->view_button, gtk_widget_unparent);
  G_OBJECT_CLASS (confab_video_grid_parent_class)->dispose (object);
}

static void
confab_video_grid_finalize (GObject *object)
{
  ConfabVideoGrid *self = CONFAB_VIDEO_GRID (object);

  g_clear_pointer (&self->tiles, g_ptr_array_unref);
  g_clear_pointer (&self->order, g_ptr_array_unref);
  g_clear_pointer (&self->rects, g_array_unref);
  g_clear_pointer (&self->pool, pixel_pool_unref);
  G_OBJECT_CLASS (confab_video_grid_parent_class)->finalize (object);
}

static void
confab_video_grid_class_init (ConfabVideoGridClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = confab_video_grid_dispose;
  object_class->finalize = confab_video_grid_finalize;
  widget_class->measure = confab_video_grid_measure;
  widget_class->size_allocate = confab_video_grid_size_allocate;
  widget_class->realize = confab_video_grid_realize;
  widget_class->snapshot = confab_video_grid_snapshot;
  widget_class->map = confab_video_grid_map;
  widget_class->unmap = confab_video_grid_unmap;

  gtk_widget_class_install_action (widget_class, "grid.pin", "t", pin_action);
  gtk_widget_class_set_css_name (widget_class, "video-grid");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
confab_video_grid_init (ConfabVideoGrid *self)
{
  self->tiles = g_ptr_array_new_with_free_func (grid_tile_free);
  self->order = g_ptr_array_new ();
  self->rects = g_array_new (FALSE, TRUE, sizeof (ConfabGridRect));
  self->pool = pixel_pool_new ();

  self->gl_area = gtk_gl_area_new ();
  /* Only a new picture or a new layout redraws the video; overlays changing
   * (a name, an icon) reuse the last render. */
  gtk_gl_area_set_auto_render (GTK_GL_AREA (self->gl_area), FALSE);
  gtk_gl_area_set_has_depth_buffer (GTK_GL_AREA (self->gl_area), FALSE);
  gtk_widget_set_parent (self->gl_area, GTK_WIDGET (self));
  g_signal_connect (self->gl_area, "realize", G_CALLBACK (on_gl_realize), self);
  g_signal_connect (self->gl_area, "unrealize", G_CALLBACK (on_gl_unrealize), self);
  g_signal_connect (self->gl_area, "render", G_CALLBACK (on_gl_render), self);

  self->view_button = gtk_toggle_button_new ();
  gtk_widget_add_css_class (self->view_button, "osd");
  gtk_widget_add_css_class (self->view_button, "circular");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->view_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Speaker View"), -1);
  update_view_button (self);
  gtk_widget_set_parent (self->view_button, GTK_WIDGET (self));
  g_signal_connect (self->view_button, "toggled", G_CALLBACK (on_view_toggled), self);
}
