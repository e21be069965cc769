/* confab-call-session.c: invite → relay paths → ConfabCall, and the call's
 * events turned into what the window shows. */
#define G_LOG_DOMAIN "confab-call-session"

#include "confab-call-session.h"

#include "confab-call.h"
#include "confab-election.h"
#include "confab-packet.h"

#include <glib/gi18n.h>

struct _ConfabCallSession
{
  GObject parent_instance;

  /* Owned */
  ConfabInvite *invite;
  char *user_id;
  ConfabCall *call;
  GCancellable *cancellable;

  gboolean microphone_on;
  gboolean camera_on;
  gboolean leaving;
  gboolean ended;
};

G_DEFINE_FINAL_TYPE (ConfabCallSession, confab_call_session, G_TYPE_OBJECT)

enum
{
  SIGNAL_JOINED,
  SIGNAL_PARTICIPANT_ADDED,
  SIGNAL_PARTICIPANT_REMOVED,
  SIGNAL_ENDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static ConfabInvite *
invite_copy (const ConfabInvite *invite)
{
  ConfabInvite *copy = g_new0 (ConfabInvite, 1);

  copy->ws_base = g_strdup (invite->ws_base);
  copy->config_url = g_strdup (invite->config_url);
  copy->room = g_strdup (invite->room);
  copy->user = g_strdup (invite->user);
  copy->token = g_strdup (invite->token);
  copy->key = g_strdup (invite->key);
  return copy;
}

static void
end (ConfabCallSession *self, const GError *error)
{
  if (self->ended)
    return;
  self->ended = TRUE;
  g_signal_emit (self, signals[SIGNAL_ENDED], 0, error);
}

static void
on_session_assigned (ConfabCall *call, guint64 session_id, ConfabCallSession *self)
{
  g_signal_emit (self, signals[SIGNAL_JOINED], 0);
}

typedef struct
{
  ConfabCallSession *self;
  ConfabPeer *peer;
} PeerAnnouncement;

static void
peer_announcement_free (gpointer data)
{
  PeerAnnouncement *announcement = data;

  g_object_unref (announcement->self);
  g_object_unref (announcement->peer);
  g_free (announcement);
}

static gboolean
announce_peer (gpointer data)
{
  PeerAnnouncement *announcement = data;

  if (!announcement->self->ended && confab_peer_is_present (announcement->peer))
    g_signal_emit (announcement->self, signals[SIGNAL_PARTICIPANT_ADDED], 0,
                   confab_peer_get_session_id (announcement->peer),
                   confab_peer_get_display_name (announcement->peer));
  return G_SOURCE_REMOVE;
}

/* "peer-joined" comes before the packet that announced the peer has given it
 * a name, so the window hears of it once that packet is handled. */
static void
on_peer_joined (ConfabCall *call, ConfabPeer *peer, ConfabCallSession *self)
{
  PeerAnnouncement *announcement = g_new0 (PeerAnnouncement, 1);

  announcement->self = g_object_ref (self);
  announcement->peer = g_object_ref (peer);
  g_idle_add_full (G_PRIORITY_DEFAULT, announce_peer, announcement, peer_announcement_free);
}

static void
on_peer_left (ConfabCall *call, ConfabPeer *peer, ConfabCallSession *self)
{
  g_signal_emit (self, signals[SIGNAL_PARTICIPANT_REMOVED], 0, confab_peer_get_session_id (peer));
}

static void
on_call_closed (ConfabCall *call, const GError *error, ConfabCallSession *self)
{
  end (self, self->leaving ? NULL : error);
}

/* A webTransportHost entry as a base URL: a bare host:port means https://. */
static char *
webtransport_base (const char *host)
{
  if (g_str_has_prefix (host, "https://"))
    return g_strdup (host);
  return g_strdup_printf ("https://%s", host);
}

/* Every path the relay offers, WebTransport first (PROTOCOL.md §5). */
static void
start_call (ConfabCallSession *self,
            const char *const *wt_bases,
            const char *const *ws_bases,
            const char *cert_hash)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabTransport) transport = NULL;
  g_auto (GStrv) urls = NULL;
  ConfabElectionOptions options = { .cert_hash = cert_hash };

  for (guint pass = 0; pass < 2; pass++)
    {
      const char *const *bases = pass == 0 ? wt_bases : ws_bases;

      for (guint i = 0; bases != NULL && bases[i] != NULL; i++)
        {
          g_autofree char *base = pass == 0 ? webtransport_base (bases[i]) : g_strdup (bases[i]);
          g_autofree char *lobby =
              confab_invite_lobby_url (self->invite, base, self->user_id, &error);

          if (lobby == NULL)
            {
              end (self, error);
              return;
            }
          g_strv_builder_add (builder, lobby);
        }
    }
  urls = g_strv_builder_end (builder);
  if (urls[0] == NULL)
    {
      g_set_error_literal (&error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_CONFIG,
                           _ ("The server offers no way to connect"));
      end (self, error);
      return;
    }

  transport = confab_election_new ((const char *const *) urls, self->user_id, &options, &error);
  if (transport == NULL)
    {
      end (self, error);
      return;
    }
  self->call = confab_call_new (transport, self->user_id);
  confab_call_set_media_state (self->call, self->camera_on, self->microphone_on);
  g_signal_connect_object (self->call, "session-assigned", G_CALLBACK (on_session_assigned), self,
                           0);
  g_signal_connect_object (self->call, "peer-joined", G_CALLBACK (on_peer_joined), self, 0);
  g_signal_connect_object (self->call, "peer-left", G_CALLBACK (on_peer_left), self, 0);
  g_signal_connect_object (self->call, "closed", G_CALLBACK (on_call_closed), self, 0);
  confab_call_start (self->call);
}

static void
on_config_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (ConfabCallSession) self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabServerConfig) config = confab_server_config_fetch_finish (result, &error);

  if (self->leaving || self->ended)
    return;
  if (config == NULL)
    {
      end (self, error);
      return;
    }
  start_call (
      self, config->webtransport_enabled ? (const char *const *) config->webtransport_hosts : NULL,
      (const char *const *) config->ws_urls, config->webtransport_cert_hash);
}

void
confab_call_session_start (ConfabCallSession *self)
{
  g_return_if_fail (CONFAB_IS_CALL_SESSION (self));
  g_return_if_fail (self->call == NULL);

  if (self->invite->ws_base != NULL)
    {
      const char *ws_bases[] = { self->invite->ws_base, NULL };

      start_call (self, NULL, ws_bases, NULL);
      return;
    }
  confab_server_config_fetch_async (self->invite->config_url, self->cancellable, on_config_fetched,
                                    g_object_ref (self));
}

void
confab_call_session_leave (ConfabCallSession *self)
{
  g_return_if_fail (CONFAB_IS_CALL_SESSION (self));

  if (self->leaving || self->ended)
    return;
  self->leaving = TRUE;
  g_cancellable_cancel (self->cancellable);
  if (self->call != NULL)
    confab_call_leave (self->call); /* "closed" ends us */
  else
    end (self, NULL);
}

ConfabCallSession *
confab_call_session_new (const ConfabInvite *invite,
                         const char *display_name,
                         gboolean microphone_on,
                         gboolean camera_on,
                         GError **error)
{
  g_autoptr (ConfabCallSession) self = NULL;
  g_autofree char *user_id = NULL;

  g_return_val_if_fail (invite != NULL, NULL);

  /* The name typed on the pre-join page, else the link's; spaces become '_'
   * as everywhere in the protocol. */
  if (display_name != NULL)
    {
      g_autofree char *trimmed = g_strstrip (g_strdup (display_name));

      if (*trimmed != '\0')
        user_id = confab_name_normalize (trimmed);
    }
  if (user_id == NULL && invite->user != NULL)
    user_id = confab_name_normalize (invite->user);
  if (user_id == NULL || !confab_name_is_valid (user_id))
    {
      g_set_error_literal (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID,
                           _ ("A display name may use letters, digits, spaces, “-” and “_”"));
      return NULL;
    }

  self = g_object_new (CONFAB_TYPE_CALL_SESSION, NULL);
  self->invite = invite_copy (invite);
  self->user_id = g_steal_pointer (&user_id);
  self->microphone_on = microphone_on;
  self->camera_on = camera_on;
  return g_steal_pointer (&self);
}

const char *
confab_call_session_get_room (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), NULL);
  return self->invite->room;
}

const char *
confab_call_session_get_user_id (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), NULL);
  return self->user_id;
}

void
confab_call_session_set_microphone (ConfabCallSession *self, gboolean on)
{
  g_return_if_fail (CONFAB_IS_CALL_SESSION (self));
  self->microphone_on = !!on;
  if (self->call != NULL)
    confab_call_set_media_state (self->call, self->camera_on, self->microphone_on);
}

void
confab_call_session_set_camera (ConfabCallSession *self, gboolean on)
{
  g_return_if_fail (CONFAB_IS_CALL_SESSION (self));
  self->camera_on = !!on;
  if (self->call != NULL)
    confab_call_set_media_state (self->call, self->camera_on, self->microphone_on);
}

gboolean
confab_call_session_get_microphone (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), FALSE);
  return self->microphone_on;
}

gboolean
confab_call_session_get_camera (ConfabCallSession *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL_SESSION (self), FALSE);
  return self->camera_on;
}

static void
confab_call_session_dispose (GObject *object)
{
  ConfabCallSession *self = CONFAB_CALL_SESSION (object);

  g_cancellable_cancel (self->cancellable);
  if (self->call != NULL)
    g_signal_handlers_disconnect_by_data (self->call, self);
  g_clear_object (&self->call);
  G_OBJECT_CLASS (confab_call_session_parent_class)->dispose (object);
}

static void
confab_call_session_finalize (GObject *object)
{
  ConfabCallSession *self = CONFAB_CALL_SESSION (object);

  g_clear_pointer (&self->invite, confab_invite_free);
  g_clear_pointer (&self->user_id, g_free);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (confab_call_session_parent_class)->finalize (object);
}

static void
confab_call_session_class_init (ConfabCallSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_call_session_dispose;
  object_class->finalize = confab_call_session_finalize;

  signals[SIGNAL_JOINED] = g_signal_new ("joined", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_PARTICIPANT_ADDED] =
      g_signal_new ("participant-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_STRING);
  signals[SIGNAL_PARTICIPANT_REMOVED] =
      g_signal_new ("participant-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
  signals[SIGNAL_ENDED] =
      g_signal_new ("ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
confab_call_session_init (ConfabCallSession *self)
{
  self->cancellable = g_cancellable_new ();
}
