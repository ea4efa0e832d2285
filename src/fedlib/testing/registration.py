"""Where each vendor's admin console takes the SP's entity ID, ACS URL and metadata URL, and where it
publishes the IdP metadata fedlib needs: the setup half of the per-IdP guides (``docs/idp/<name>.md``,
generated at docs build time by ``docs/gen/hooks.py``). The other half, the settings fedlib's policy needs
(Response signing, certificate in KeyInfo, no encryption), is the vendor profiles' data
(:mod:`fedlib.testing.profiles`); this module adds only what the profiles do not say.

Menu paths follow each vendor's current admin documentation; consoles get renamed, so the guides tell the
reader to check the label in their version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True, kw_only=True)
class Registration:
    """How an administrator registers fedlib's SP at one vendor's IdP."""

    create: str
    """Where the SP (application, client, relying party, connection) is created."""

    entity_id: str
    """The field that takes the SP entity ID (``SPConfig.entity_id``)."""

    acs_url: str
    """The field that takes the ACS URL (``SPConfig.acs_url``)."""

    metadata_url: str
    """Whether and where the SP metadata URL (``/saml/metadata``) can be imported instead."""

    idp_metadata: str
    """Where the IdP's own metadata (for ``parse_idp_metadata``) is published."""


REGISTRATIONS: Mapping[str, Registration] = MappingProxyType(
    {
        "entra": Registration(
            create="Entra admin center > Enterprise applications > New application > Create your own "
            "application (non-gallery) > Single sign-on > SAML",
            entity_id="Basic SAML Configuration > Identifier (Entity ID)",
            acs_url="Basic SAML Configuration > Reply URL (Assertion Consumer Service URL)",
            metadata_url="Basic SAML Configuration > Upload metadata file (a file, not a URL: save "
            "`/saml/metadata` first)",
            idp_metadata="SAML Certificates > App Federation Metadata Url (per application; it names the tenant)",
        ),
        "okta": Registration(
            create="Admin Console > Applications > Create App Integration > SAML 2.0",
            entity_id="Configure SAML > Audience URI (SP Entity ID)",
            acs_url="Configure SAML > Single sign-on URL (keep *Use this for Recipient URL and Destination URL* "
            "checked)",
            metadata_url="not imported: type the two values",
            idp_metadata="Application > Sign On > SAML Signing Certificates > Actions > View IdP metadata "
            "(the Metadata URL)",
        ),
        "adfs": Registration(
            create="AD FS Management > Relying Party Trusts > Add Relying Party Trust > Claims aware",
            entity_id="Configure Identifiers > Relying party trust identifier",
            acs_url="Configure URL > Enable support for the SAML 2.0 WebSSO protocol > Relying party SAML 2.0 "
            "SSO service URL",
            metadata_url="Select Data Source > Import data about the relying party published online "
            "(or `Add-AdfsRelyingPartyTrust -Name <RP> -MetadataUrl <SP metadata URL>`); the import sets both "
            "fields",
            idp_metadata="`https://<adfs host>/FederationMetadata/2007-06/FederationMetadata.xml`",
        ),
        "google": Registration(
            create="Admin console > Apps > Web and mobile apps > Add app > Add custom SAML app",
            entity_id="Service provider details > Entity ID",
            acs_url="Service provider details > ACS URL",
            metadata_url="not imported: type the two values",
            idp_metadata="Google Identity Provider details > Download Metadata (step 2 of the wizard, or the "
            "app's *Download metadata* later)",
        ),
        "keycloak": Registration(
            create="Admin console > <realm> > Clients > Create client > Client type = SAML (or Clients > "
            "Import client with the SP metadata)",
            entity_id="General settings > Client ID",
            acs_url="Advanced > Assertion Consumer Service POST Binding URL (and the URL in Valid redirect URIs)",
            metadata_url="Clients > Import client > Resource file: the SP metadata (a file) sets both fields",
            idp_metadata="`https://<host>/realms/<realm>/protocol/saml/descriptor`",
        ),
        "shibboleth": Registration(
            create="`conf/metadata-providers.xml`: a `MetadataProvider` for the SP (the SP is known by its "
            "metadata, there is no form)",
            entity_id="the SP metadata's `entityID` (used as the `relyingPartyIds` of the override below)",
            acs_url="the SP metadata's `AssertionConsumerService`",
            metadata_url='`<MetadataProvider xsi:type="FileBackedHTTPMetadataProvider" metadataURL="<SP '
            'metadata URL>" backingFile="%{idp.home}/metadata/sp.xml" .../>`',
            idp_metadata="`%{idp.home}/metadata/idp-metadata.xml`, usually served at `https://<idp>/idp/shibboleth`",
        ),
        "pingfederate": Registration(
            create="Applications > Integration > SP Connections > Create Connection > Browser SSO profiles",
            entity_id="General Info > Partner's Entity ID (Connection ID)",
            acs_url="Browser SSO > Protocol Settings > Assertion Consumer Service URL (binding POST)",
            metadata_url="Import Metadata > URL (or a file): sets both",
            idp_metadata="System > Protocol Metadata > Metadata Export (or the connection's export)",
        ),
        "auth0": Registration(
            create="Dashboard > Applications > <application> > Addons > SAML2 Web App",
            entity_id='Settings JSON: `"audience": "<SP entity ID>"`',
            acs_url="Settings > Application Callback URL",
            metadata_url="not imported: type the two values",
            idp_metadata="Addon > Usage > Identity Provider Metadata "
            "(`https://<tenant>.auth0.com/samlp/metadata/<client id>`)",
        ),
        "onelogin": Registration(
            create="Administration > Applications > Add App > SAML Custom Connector (Advanced)",
            entity_id="Configuration > Audience (EntityID)",
            acs_url="Configuration > ACS (Consumer) URL, and the same URL in Recipient and (as a regular "
            "expression) ACS (Consumer) URL Validator",
            metadata_url="not imported: type the values",
            idp_metadata="the application's More Actions > SAML Metadata",
        ),
        "salesforce": Registration(
            create="Setup > Identity Provider > Enable; then App Manager > New Connected App > Web App "
            "Settings > Enable SAML",
            entity_id="Web App Settings > Entity Id",
            acs_url="Web App Settings > ACS URL",
            metadata_url="not imported: type the two values",
            idp_metadata="Setup > Identity Provider > Download Metadata (or the connected app's *SAML "
            "Metadata Discovery Endpoints*)",
        ),
        "simplesamlphp": Registration(
            create="`metadata/saml20-sp-remote.php` on the IdP (or the metarefresh module)",
            entity_id="the array key: `$metadata['<SP entity ID>'] = [...]`",
            acs_url="`'AssertionConsumerService' => '<ACS URL>'` in that entry",
            metadata_url="metarefresh (`config-metarefresh.php`, `'src' => '<SP metadata URL>'`), or convert "
            "the XML with the admin interface's metadata converter",
            idp_metadata="`https://<host>/simplesaml/module.php/saml/idp/metadata` (2.x; "
            "`/simplesaml/saml2/idp/metadata.php` in 1.x)",
        ),
    }
)
"""Per vendor profile name (:data:`fedlib.testing.profiles.PROFILES`), how to register the SP (the
vendors of issue #12; Rippling's console is not documented here, so it has no guide yet)."""

__all__ = ["REGISTRATIONS", "Registration"]
