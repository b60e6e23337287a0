"""Processing centers over SOAP: ``SoapProcessingGateway``, the adapter of the
``ProcessingGateway`` port to the contract of ``wsdl/processing.wsdl``.

Wire <-> domain mapping happens here only.  Every call goes through one HTTP transport
(``transport``) with explicit connect and read timeouts; a timeout or a broken answer after
the request may have arrived is an UNKNOWN outcome, never a success.
"""

from .gateway import SoapProcessingGateway, Timeouts

__all__ = ["SoapProcessingGateway", "Timeouts"]
