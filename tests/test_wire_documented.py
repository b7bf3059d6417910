"""User data, trading and market payloads with no recording: the venue's documented examples
(Binance USD-M futures API documentation) decode to typed messages and encode back."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
import pytest

from adapters.binance.wire import (
    Account,
    AccountConfigUpdate,
    AccountUpdate,
    AggTrade,
    AlgoCancel,
    AlgoOrder,
    AlgoOrderQuery,
    AlgoUpdate,
    AmendOrder,
    ErrorBody,
    ForceOrder,
    ListenKey,
    ListenKeyExpired,
    MarginCall,
    MarkPriceUpdate,
    NewAlgoOrder,
    NewOrder,
    OpenInterest,
    Order,
    OrderQuery,
    OrderTradeUpdate,
    PositionRisk,
    PremiumIndex,
    ServerTime,
    SymbolQuery,
    TradeLite,
    UserTrade,
    WireMessage,
    decode_event,
    decode_list,
    encode_list,
    loads,
)

ORDER_TRADE_UPDATE = (
    b'{"e":"ORDER_TRADE_UPDATE","E":1568879465651,"T":1568879465650,"o":{"s":"BTCUSDT",'
    b'"c":"TEST","S":"SELL","o":"TRAILING_STOP_MARKET","f":"GTC","q":"0.001","p":"0",'
    b'"ap":"0","sp":"7103.04","x":"NEW","X":"NEW","i":8886774,"l":"0","z":"0","L":"0",'
    b'"N":"USDT","n":"0","T":1568879465650,"t":0,"b":"0","a":"9.91","m":false,"R":false,'
    b'"wt":"CONTRACT_PRICE","ot":"TRAILING_STOP_MARKET","ps":"LONG","cp":false,'
    b'"AP":"7476.89","cr":"5.0","pP":false,"si":0,"ss":0,"rp":"0","V":"EXPIRE_TAKER",'
    b'"pm":"OPPONENT","gtd":0}}'
)
ORDER_TRADE_FILL = (
    b'{"e":"ORDER_TRADE_UPDATE","T":1725462901305,"E":1725462901305,"o":{"s":"ETCUSDT",'
    b'"c":"x-1","S":"BUY","o":"LIMIT","f":"GTC","q":"350.10","p":"18.024","ap":"18.024",'
    b'"sp":"0","x":"TRADE","X":"PARTIALLY_FILLED","i":23178779928,"l":"52.74","z":"52.74",'
    b'"L":"18.024","n":"0.19012","N":"USDT","T":1725462901305,"t":937937664,"b":"0",'
    b'"a":"0","m":true,"R":false,"wt":"CONTRACT_PRICE","ot":"LIMIT","ps":"BOTH","cp":false,'
    b'"rp":"0","pP":false,"si":0,"ss":0,"V":"NONE","pm":"NONE","gtd":0,"er":"0"}}'
)
TRADE_LITE = (
    b'{"e":"TRADE_LITE","E":1721895408092,"T":1721895408214,"s":"BTCUSDT","q":"0.001",'
    b'"p":"0","m":false,"c":"z8hcUoOsqEdKMeKPSABslD","S":"BUY","L":"64089.20","l":"0.040",'
    b'"t":109100866,"i":8886774}'
)
ACCOUNT_UPDATE = (
    b'{"e":"ACCOUNT_UPDATE","E":1564745798939,"T":1564745798938,"a":{"m":"ORDER",'
    b'"B":[{"a":"USDT","wb":"122624.12345678","cw":"100.12345678","bc":"50.12345678"},'
    b'{"a":"BUSD","wb":"1.00000000","cw":"0.00000000","bc":"-49.12345678"}],'
    b'"P":[{"s":"BTCUSDT","pa":"0","ep":"0.00000","bep":"0","cr":"200","up":"0",'
    b'"mt":"isolated","iw":"0.00000000","ps":"BOTH"},{"s":"BTCUSDT","pa":"20",'
    b'"ep":"6563.66500","bep":"0","cr":"0","up":"2850.21200","mt":"isolated",'
    b'"iw":"13200.70726908","ps":"LONG"}]}}'
)
MARGIN_CALL = (
    b'{"e":"MARGIN_CALL","E":1587727187525,"cw":"3.16812045","p":[{"s":"ETHUSDT",'
    b'"ps":"LONG","pa":"1.327","mt":"CROSSED","iw":"0","mp":"187.17127","up":"-1.166074",'
    b'"mm":"1.614445"}]}'
)
ALGO_UPDATE = (
    b'{"e":"ALGO_UPDATE","T":1750515742297,"E":1750515742303,"o":{"caid":"Q5xaq5EGKgXXa0fD7fs0Ip",'
    b'"aid":2148719,"at":"CONDITIONAL","o":"TAKE_PROFIT","s":"BNBUSDT","S":"SELL","ps":"BOTH",'
    b'"f":"GTC","q":"0.01","X":"CANCELED","ai":"","ap":"0.00000","aq":"0.00000","act":"0",'
    b'"tp":"750","p":"750","V":"EXPIRE_MAKER","wt":"CONTRACT_PRICE","pm":"NONE","cp":false,'
    b'"pP":false,"R":false,"tt":0,"gtd":0,"rm":"Reduce Only reject"}}'
)
LISTEN_KEY_EXPIRED = (
    b'{"e":"listenKeyExpired","E":"1736996475556",'
    b'"listenKey":"WsCMN0a4KHUPTQuX6IUnqEZfB1inxmv1qR4kbf1LuEjur5VdbzqvyxqG9TSjVVxv"}'
)
ACCOUNT_CONFIG_UPDATE = (
    b'{"e":"ACCOUNT_CONFIG_UPDATE","E":1611646737479,"T":1611646737476,"ac":{"s":"BTCUSDT","l":25}}'
)
FORCE_ORDER = (
    b'{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC",'
    b'"q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014",'
    b'"T":1568014460893}}'
)
AGG_TRADE_2026 = (
    b'{"e":"aggTrade","E":123456789,"a":5933014,"s":"BTCUSDT","p":"0.001","q":"100",'
    b'"nq":"100","f":100,"l":105,"T":123456785,"m":true}'
)
MARK_PRICE_WITH_AP = (
    b'{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000",'
    b'"P":"11784.62659091","i":"11784.62659091","r":"0.00038167","T":1562306400000,'
    b'"ap":"11794.15000000"}'
)

EVENTS = [
    (ORDER_TRADE_UPDATE, OrderTradeUpdate),
    (ORDER_TRADE_FILL, OrderTradeUpdate),
    (TRADE_LITE, TradeLite),
    (ACCOUNT_UPDATE, AccountUpdate),
    (MARGIN_CALL, MarginCall),
    (ALGO_UPDATE, AlgoUpdate),
    (LISTEN_KEY_EXPIRED, ListenKeyExpired),
    (ACCOUNT_CONFIG_UPDATE, AccountConfigUpdate),
    (FORCE_ORDER, ForceOrder),
    (AGG_TRADE_2026, AggTrade),
    (MARK_PRICE_WITH_AP, MarkPriceUpdate),
]

NEW_ORDER_RESPONSE = (
    b'{"clientOrderId":"testOrder","cumQty":"0","cumQuote":"0","executedQty":"0",'
    b'"orderId":22542179,"avgPrice":"0.00000","origQty":"10","price":"0","reduceOnly":false,'
    b'"side":"BUY","positionSide":"SHORT","status":"NEW","stopPrice":"9300",'
    b'"closePosition":false,"symbol":"BTCUSDT","timeInForce":"GTD","type":"TRAILING_STOP_MARKET",'
    b'"origType":"TRAILING_STOP_MARKET","activatePrice":"9020","priceRate":"0.3",'
    b'"updateTime":1566818724722,"workingType":"CONTRACT_PRICE","priceProtect":false,'
    b'"priceMatch":"NONE","selfTradePreventionMode":"NONE","goodTillDate":1693207680000}'
)
AMEND_RESPONSE = (
    b'{"orderId":20072994037,"symbol":"BTCUSDT","pair":"BTCUSDT","status":"NEW",'
    b'"clientOrderId":"LJ9R4QZDihCaS8UAOOLpgW","price":"30005","avgPrice":"0.0","origQty":"1",'
    b'"executedQty":"0","cumQty":"0","cumBase":"0","timeInForce":"GTC","type":"LIMIT",'
    b'"reduceOnly":false,"closePosition":false,"side":"BUY","positionSide":"LONG",'
    b'"stopPrice":"0","workingType":"CONTRACT_PRICE","priceProtect":false,"origType":"LIMIT",'
    b'"priceMatch":"NONE","selfTradePreventionMode":"NONE","goodTillDate":0,'
    b'"updateTime":1629182711600}'
)
CANCELED_ORDER = (
    b'{"clientOrderId":"myOrder1","cumQty":"0","cumQuote":"0","executedQty":"0",'
    b'"orderId":283194212,"origQty":"11","origType":"LIMIT","price":"1.05","reduceOnly":false,'
    b'"side":"BUY","positionSide":"SHORT","status":"CANCELED","stopPrice":"0",'
    b'"closePosition":false,"symbol":"BTCUSDT","timeInForce":"GTX","type":"LIMIT",'
    b'"updateTime":1571110484038,"workingType":"CONTRACT_PRICE","priceProtect":false,'
    b'"priceMatch":"NONE","selfTradePreventionMode":"NONE","goodTillDate":0}'
)
OPEN_ORDERS = (
    b'[{"avgPrice":"0.00000","clientOrderId":"abc","cumQuote":"0","executedQty":"0",'
    b'"orderId":1917641,"origQty":"0.40","origType":"LIMIT","price":"0","reduceOnly":false,'
    b'"side":"BUY","positionSide":"SHORT","status":"NEW","stopPrice":"0","closePosition":false,'
    b'"symbol":"BTCUSDT","time":1579276756075,"timeInForce":"GTC","type":"LIMIT",'
    b'"updateTime":1579276756075,"workingType":"CONTRACT_PRICE","priceProtect":false,'
    b'"priceMatch":"NONE","selfTradePreventionMode":"NONE","goodTillDate":0}]'
)
ALGO_ORDER_RESPONSE = (
    b'{"algoId":2146760,"clientAlgoId":"6B2I9XVcJpCjqPAJ4YoFX7","algoType":"CONDITIONAL",'
    b'"orderType":"TAKE_PROFIT","symbol":"BNBUSDT","side":"SELL","positionSide":"BOTH",'
    b'"timeInForce":"GTC","quantity":"0.01","algoStatus":"CANCELED","actualOrderId":"",'
    b'"actualPrice":"0.00000","triggerPrice":"750.000","price":"750.000","icebergQuantity":null,'
    b'"tpTriggerPrice":"0.000","tpPrice":"0.000","slTriggerPrice":"0.000","slPrice":"0.000",'
    b'"tpOrderType":"","selfTradePreventionMode":"EXPIRE_MAKER","workingType":"CONTRACT_PRICE",'
    b'"priceMatch":"NONE","closePosition":false,"priceProtect":false,"reduceOnly":false,'
    b'"createTime":1750485492076,"updateTime":1750514545091,"triggerTime":0,"goodTillDate":0}'
)
ALGO_CANCEL = (
    b'{"algoId":2146760,"clientAlgoId":"6B2I9XVcJpCjqPAJ4YoFX7","code":"200","msg":"success"}'
)
USER_TRADES = (
    b'[{"buyer":false,"commission":"-0.07819010","commissionAsset":"USDT","id":698759,'
    b'"maker":false,"orderId":25851813,"price":"7819.01","qty":"0.002","quoteQty":"15.63802",'
    b'"realizedPnl":"-0.91539999","side":"SELL","positionSide":"SHORT","symbol":"BTCUSDT",'
    b'"time":1569514978020}]'
)
POSITION_RISK_V3 = (
    b'[{"symbol":"ADAUSDT","positionSide":"BOTH","positionAmt":"30","entryPrice":"0.385",'
    b'"breakEvenPrice":"0.385077","markPrice":"0.41047590","unRealizedProfit":"0.76427700",'
    b'"liquidationPrice":"0","isolatedMargin":"0","notional":"12.31427700","marginAsset":"USDT",'
    b'"isolatedWallet":"0","initialMargin":"0.61571385","maintMargin":"0.08004280",'
    b'"positionInitialMargin":"0.61571385","openOrderInitialMargin":"0","adl":2,'
    b'"bidNotional":"0","askNotional":"0","updateTime":1720736417660}]'
)
POSITION_RISK_V2 = (
    b'[{"entryPrice":"0.00000","breakEvenPrice":"0.0","marginType":"isolated",'
    b'"isAutoAddMargin":"false","isolatedMargin":"0.00000000","leverage":"10",'
    b'"liquidationPrice":"0","markPrice":"6679.50671178","maxNotionalValue":"20000000",'
    b'"positionAmt":"0.000","notional":"0","isolatedWallet":"0","symbol":"BTCUSDT",'
    b'"unRealizedProfit":"0.00000000","positionSide":"BOTH","updateTime":0}]'
)
ACCOUNT_V3 = (
    b'{"totalInitialMargin":"0.00000000","totalMaintMargin":"0.00000000",'
    b'"totalWalletBalance":"103.12345678","totalUnrealizedProfit":"0.00000000",'
    b'"totalMarginBalance":"103.12345678","totalPositionInitialMargin":"0.00000000",'
    b'"totalOpenOrderInitialMargin":"0.00000000","totalCrossWalletBalance":"103.12345678",'
    b'"totalCrossUnPnl":"0.00000000","availableBalance":"103.12345678",'
    b'"maxWithdrawAmount":"103.12345678","assets":[{"asset":"USDT",'
    b'"walletBalance":"23.72469206","unrealizedProfit":"0.00000000",'
    b'"marginBalance":"23.72469206","maintMargin":"0.00000000","initialMargin":"0.00000000",'
    b'"positionInitialMargin":"0.00000000","openOrderInitialMargin":"0.00000000",'
    b'"crossWalletBalance":"23.72469206","crossUnPnl":"0.00000000",'
    b'"availableBalance":"23.72469206","maxWithdrawAmount":"23.72469206",'
    b'"updateTime":1625474304765}],"positions":[{"symbol":"BTCUSDT","positionSide":"BOTH",'
    b'"positionAmt":"1.000","unrealizedProfit":"0.00000000","isolatedMargin":"0.00000000",'
    b'"notional":"0","isolatedWallet":"0","initialMargin":"0","maintMargin":"0",'
    b'"updateTime":0}]}'
)

RESPONSES: list[tuple[bytes, type[WireMessage]]] = [
    (NEW_ORDER_RESPONSE, Order),
    (AMEND_RESPONSE, Order),
    (CANCELED_ORDER, Order),
    (ALGO_ORDER_RESPONSE, AlgoOrder),
    (ALGO_CANCEL, AlgoCancel),
    (ACCOUNT_V3, Account),
    (
        b'{"listenKey":"pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}',
        ListenKey,
    ),
    (b'{"serverTime":1499827319559}', ServerTime),
    (
        b'{"symbol":"BTCUSDT","markPrice":"11793.63104562","indexPrice":"11781.80495970",'
        b'"estimatedSettlePrice":"11781.16138815","lastFundingRate":"0.00038246",'
        b'"interestRate":"0.00010000","nextFundingTime":1597392000000,"time":1597370495002}',
        PremiumIndex,
    ),
    (b'{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}', OpenInterest),
    (b'{"code":-5022,"msg":"Due to the order could not be executed as maker."}', ErrorBody),
]

LISTS: list[tuple[bytes, type[WireMessage]]] = [
    (OPEN_ORDERS, Order),
    (USER_TRADES, UserTrade),
    (POSITION_RISK_V3, PositionRisk),
    (POSITION_RISK_V2, PositionRisk),
]

QUERIES: list[tuple[str, type[WireMessage]]] = [
    (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTX&quantity=0.001&price=61000.10"
        "&newClientOrderId=mm-1.a%3Ab%2Fc",
        NewOrder,
    ),
    ("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.010&reduceOnly=true", NewOrder),
    (
        "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=STOP_MARKET&quantity=0.001"
        "&triggerPrice=60000&workingType=MARK_PRICE&priceProtect=TRUE&clientAlgoId=stop-1",
        NewAlgoOrder,
    ),
    ("symbol=BTCUSDT&orderId=283194212", OrderQuery),
    ("symbol=BTCUSDT&origClientOrderId=myOrder1", OrderQuery),
    ("algoId=2146760", AlgoOrderQuery),
    (
        "orderId=20072994037&symbol=BTCUSDT&side=BUY&quantity=1&price=30005",
        AmendOrder,
    ),
    ("symbol=BTCUSDT", SymbolQuery),
    (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=1&timeInForce=GTD"
        "&goodTillDate=1693207680000&timestamp=1700000000000&recvWindow=5000",
        NewOrder,
    ),
]


def _sorted_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _byte_identical(message: WireMessage, raw: bytes) -> None:
    """Equal to the payload and, keys sorted (the documentation's examples list them in
    no fixed order), the same JSON bytes: every decimal string exactly as it was."""
    wire: Any = message.to_wire()
    assert wire == loads(raw)
    assert _sorted_json(wire) == _sorted_json(loads(raw))


@pytest.mark.parametrize(("raw", "cls"), EVENTS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_documented_stream_event_decodes_to_its_type_and_encodes_back_byte_identical(
    raw: bytes, cls: type[WireMessage]
) -> None:
    message = decode_event(loads(raw))
    assert type(message) is cls
    assert isinstance(message, WireMessage)
    _byte_identical(message, raw)


@pytest.mark.parametrize(("raw", "cls"), RESPONSES, ids=lambda v: getattr(v, "__name__", ""))
def test_a_documented_rest_response_decodes_to_its_type_and_encodes_back_byte_identical(
    raw: bytes, cls: type[WireMessage]
) -> None:
    _byte_identical(cls.from_wire(loads(raw)), raw)


@pytest.mark.parametrize(("raw", "cls"), LISTS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_documented_list_response_decodes_item_by_item_and_encodes_back(
    raw: bytes, cls: type[WireMessage]
) -> None:
    items = decode_list(cls, loads(raw))
    assert items and all(type(i) is cls for i in items)
    assert _sorted_json(encode_list(items)) == _sorted_json(loads(raw))


@pytest.mark.parametrize(("query", "cls"), QUERIES, ids=lambda v: getattr(v, "__name__", ""))
def test_a_request_query_decodes_to_its_parameter_set_and_encodes_back_to_the_same_query(
    query: str, cls: type[WireMessage]
) -> None:
    params = dict(parse_qsl(query))
    wire = cls.from_wire(params).to_wire()
    assert wire == params
    assert urlencode(sorted(wire.items())) == urlencode(sorted(params.items()))


def test_an_order_fill_reads_with_readable_names() -> None:
    update = OrderTradeUpdate.from_wire(loads(ORDER_TRADE_FILL))
    fill = update.order
    assert (fill.execution_type, fill.status) == ("TRADE", "PARTIALLY_FILLED")
    assert (fill.last_filled_qty, fill.last_filled_price, fill.trade_id) == (
        "52.74",
        "18.024",
        937937664,
    )
    assert fill.is_maker is True
    assert fill.extra == {"si": 0, "ss": 0, "er": "0"}  # undocumented keys, kept


def test_listen_key_expired_takes_its_event_time_as_a_string_or_an_integer() -> None:
    as_string = ListenKeyExpired.from_wire(loads(LISTEN_KEY_EXPIRED))
    as_int = ListenKeyExpired.from_wire({"e": "listenKeyExpired", "E": 1736996475556})
    assert as_string.event_time == "1736996475556"
    assert as_string.event_time_ms == as_int.event_time_ms == 1736996475556


def test_a_null_in_an_optional_field_writes_back_as_null() -> None:
    algo = AlgoOrder.from_wire(loads(ALGO_ORDER_RESPONSE))
    assert algo.iceberg_quantity is None
    assert algo.to_wire()["icebergQuantity"] is None


def test_an_algo_update_names_its_status_trigger_and_reject_reason() -> None:
    update = AlgoUpdate.from_wire(loads(ALGO_UPDATE))
    assert update.order.algo_status == "CANCELED"
    assert update.order.trigger_price == "750"
    assert update.order.reject_reason == "Reduce Only reject"
