"""Helpers the built-in adapters share, none of them an adapter: the Asterisk manager protocol (ami_protocol),
PBX dial codes (pbx_codes), HTTP answers as AdapterError (http_errors) and SOQL reads (salesforce_soql)."""
