"""Pure SAML message models and codecs."""
