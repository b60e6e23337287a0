"""The bare Spyne echo service the benchmarks compare against: one SOAP method returning a
~15-field reply, no database, no authentication.  Run it as the gateway runs:
``gunicorn bench.echo:app`` with the same workers and worker class."""

from decimal import Decimal

import assist_ws.compat  # noqa: F401 - before Spyne: makes it import on every Python
from spyne import Application, ComplexModel, Decimal as SDecimal, Integer, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

NS = "http://www.paysecure.ru/ws/"


class EchoOrder(ComplexModel):
    __namespace__ = NS
    _type_info = [
        ("ordernumber", Unicode), ("billnumber", Unicode), ("orderamount", SDecimal),
        ("ordercurrency", Unicode), ("orderstate", Unicode), ("packetdate", Unicode),
        ("signature", Unicode), ("checkvalue", Unicode), ("testmode", Integer),
        ("ordercomment", Unicode), ("firstname", Unicode), ("lastname", Unicode),
        ("middlename", Unicode), ("email", Unicode), ("orderdate", Unicode),
    ]


class EchoService(ServiceBase):
    @rpc(Unicode, Integer, Unicode, Unicode, _returns=EchoOrder)
    def echo(ctx, ordernumber, merchant_id, login, password):
        return EchoOrder(
            ordernumber=ordernumber, billnumber="5775486650107611", orderamount=Decimal("4.00"),
            ordercurrency="RUB", orderstate="Approved", packetdate="27.11.2026 12:00",
            signature="", checkvalue="74DEB154081757F1E8097DDFAC35FC5C", testmode=1,
            ordercomment="bench", firstname="Ivan", lastname="Petrov", middlename="",
            email="buyer@example.com", orderdate="27.11.2026 11:59:30")


application = Application([EchoService], tns=NS, name="Echo", in_protocol=Soap11(validator="lxml"),
                          out_protocol=Soap11())
app = WsgiApplication(application)
