/* confab-transport.c: state and signals shared by every client transport, so
 * subclasses only move bytes. */
#define G_LOG_DOMAIN "confab-transport"

#include "confab-transport.h"

typedef enum
{
  STATE_IDLE,
  STATE_OPEN,
  STATE_CLOSED,
} TransportState;

typedef struct
{
  char *kind;
  TransportState state;
} ConfabTransportPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (ConfabTransport, confab_transport, G_TYPE_OBJECT)

G_DEFINE_QUARK (confab - transport - error - quark, confab_transport_error)

enum
{
  PROP_0,
  PROP_KIND,
  N_PROPS
};

enum
{
  SIGNAL_CONNECTED,
  SIGNAL_PACKET,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
confab_transport_finalize (GObject *object)
{
  ConfabTransport *self = CONFAB_TRANSPORT (object);
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_free (priv->kind);
  G_OBJECT_CLASS (confab_transport_parent_class)->finalize (object);
}

static void
confab_transport_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ConfabTransport *self = CONFAB_TRANSPORT (object);
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  switch (prop_id)
    {
      case PROP_KIND:
        g_value_set_string (value, priv->kind);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_transport_set_property (GObject *object,
                               guint prop_id,
                               const GValue *value,
                               GParamSpec *pspec)
{
  ConfabTransport *self = CONFAB_TRANSPORT (object);
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  switch (prop_id)
    {
      case PROP_KIND:
        g_free (priv->kind);
        priv->kind = g_value_dup_string (value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_transport_class_init (ConfabTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = confab_transport_finalize;
  object_class->get_property = confab_transport_get_property;
  object_class->set_property = confab_transport_set_property;

  properties[PROP_KIND] =
      g_param_spec_string ("kind", NULL, NULL, NULL,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_CONNECTED] = g_signal_new ("connected", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* The GBytes is one whole serialized PacketWrapper; handlers may keep a ref. */
  signals[SIGNAL_PACKET] =
      g_signal_new ("packet", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_BYTES | G_SIGNAL_TYPE_STATIC_SCOPE);
  /* The GError is NULL after a polite close (ours or the relay's). */
  signals[SIGNAL_CLOSED] =
      g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
confab_transport_init (ConfabTransport *self)
{
}

void
confab_transport_open (ConfabTransport *self)
{
  g_return_if_fail (CONFAB_IS_TRANSPORT (self));
  CONFAB_TRANSPORT_GET_CLASS (self)->open (self);
}

gboolean
confab_transport_send (ConfabTransport *self, GBytes *packet)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), FALSE);
  g_return_val_if_fail (packet != NULL, FALSE);

  if (priv->state != STATE_OPEN)
    return FALSE;
  return CONFAB_TRANSPORT_GET_CLASS (self)->send (self, packet);
}

void
confab_transport_close (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_if_fail (CONFAB_IS_TRANSPORT (self));
  if (priv->state == STATE_CLOSED)
    return;
  CONFAB_TRANSPORT_GET_CLASS (self)->close (self);
}

const char *
confab_transport_get_kind (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (self), NULL);
  return priv->kind;
}

gboolean
confab_transport_is_open (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  return priv->state == STATE_OPEN;
}

gboolean
confab_transport_is_closed (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  return priv->state == STATE_CLOSED;
}

void
confab_transport_emit_connected (ConfabTransport *self)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  if (priv->state != STATE_IDLE)
    return;
  priv->state = STATE_OPEN;
  g_signal_emit (self, signals[SIGNAL_CONNECTED], 0);
}

void
confab_transport_emit_packet (ConfabTransport *self, GBytes *packet)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  if (priv->state != STATE_OPEN)
    return;
  g_signal_emit (self, signals[SIGNAL_PACKET], 0, packet);
}

void
confab_transport_emit_closed (ConfabTransport *self, const GError *error)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  if (priv->state == STATE_CLOSED)
    return;
  priv->state = STATE_CLOSED;
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
}

void
confab_transport_set_kind (ConfabTransport *self, const char *kind)
{
  ConfabTransportPrivate *priv = confab_transport_get_instance_private (self);

  g_return_if_fail (CONFAB_IS_TRANSPORT (self));
  if (g_strcmp0 (priv->kind, kind) == 0)
    return;
  g_free (priv->kind);
  priv->kind = g_strdup (kind);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KIND]);
}
