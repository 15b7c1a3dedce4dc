#!/usr/bin/env python3
"""Creates the local stand-ins of infra/template.yaml's resources and writes the env file.

Run by `infra/local/stack start <profile>` (with the local tools' venv) against DynamoDB Local
and moto:
  * every AWS::DynamoDB::Table (name = logical id) with the template's own KeySchema,
    AttributeDefinitions, secondary indexes and TTL: no second copy of any key schema;
  * every AWS::SNS::Topic and AWS::SQS::Queue (name = logical id; queues with their visibility
    timeout and redrive policy);
  * the catalog of infra/seed/products.json in ProductsTable, in the item layout of
    shared/aws/src/dynamodb/products.rs (products already there are left as they are);
  * an SESv2 email identity for the domain of SENDER_EMAIL (moto refuses unverified senders);
  * every AWS::KMS::Key in moto's KMS, with its rotation setting and the AWS::KMS::Alias that
    names it (a stack started again finds its key by that alias and keeps it, so what was
    sealed still opens); the key policy is not mirrored, moto does not enforce one;
  * for every function with an SNS event: an SQS queue subscribed to that topic, with a local
    dead-letter queue (maxReceiveCount 3), which infra/local/event_relay.py delivers from; for
    every function with an SQS event, the relay polls the template's queue itself; and for every
    function with a DynamoDB stream event, the relay reads the table's stream from DynamoDB
    Local with the event source mapping's settings.
It writes, in MIZAN_STATE_DIR:
  * env: `export` lines for the SDK (credentials, region, per-service endpoints), every function
    environment variable of the template resolved locally, and MIZAN_API_URL, MIZAN_MOTO_URL,
    MIZAN_STATE_DIR;
  * subscriptions.json: the relay's list of queues and streams, the function each one feeds, and
    whether its messages are SNS notifications, the function's own SQS messages or stream records.
Inputs (environment): MIZAN_STATE_DIR, MIZAN_DYNAMODB_PORT, MIZAN_MOTO_PORT, MIZAN_WATCH_PORT.
"""

import datetime
import json
import os
import re
import shlex
import sys
from pathlib import Path

import boto3
import yaml
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent / "template.yaml"
DEV_SECRETS = HERE / "dev-secrets.env"
PRODUCTS_SEED = HERE.parent / "seed" / "products.json"

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
# Local values for CloudFormation pseudo parameters (moto's default account).
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "mizan-local",
}
# Variables whose template value is only a default: a value already set by the developer wins
# (infra/test paces campaigns faster than production does, for instance).
OVERRIDABLE = {"RUST_LOG", "CAMPAIGN_EMAILS_PER_SECOND", "CAMPAIGN_SMS_PER_SECOND"}
DYNAMIC_SECRET = re.compile(r"\{\{resolve:secretsmanager:([^:}]+)(?::SecretString)?(?::[^}]*)?\}\}")


# --- a YAML loader that understands CloudFormation's short tags --------------------------------

class CfnLoader(yaml.SafeLoader):
    pass


def _cfn_tag(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path=TEMPLATE):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=CfnLoader)


# --- local resolution of template values --------------------------------------------------------

class Resolver:
    def __init__(self, template, local_refs, local_atts=None, local_parameters=None):
        self.template = template
        self.resources = template.get("Resources", {})
        self.parameters = template.get("Parameters", {})
        self.local_refs = local_refs  # logical id -> local value of !Ref
        self.local_atts = local_atts or {}  # (logical id, attribute) -> local value of !GetAtt
        self.local_parameters = local_parameters or {}  # parameter -> local value instead of Default

    def ref(self, name):
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.local_parameters:
            return self.local_parameters[name]
        if name in self.parameters:
            if "Default" not in self.parameters[name]:
                raise SystemExit(f"provision: parameter {name} has no Default to use locally")
            return str(self.parameters[name]["Default"])
        if name in self.local_refs:
            return self.local_refs[name]
        kind = self.resources.get(name, {}).get("Type", "unknown")
        raise SystemExit(f"provision: no local value for !Ref {name} ({kind}); teach provision.py")

    def value(self, node):
        if isinstance(node, (str, int, float, bool)):
            text = str(node).lower() if isinstance(node, bool) else str(node)
            return self.dynamic(text)
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                key = (arg[0], arg[1])
                if key not in self.local_atts:
                    raise SystemExit(f"provision: no local value for !GetAtt {'.'.join(key)}; "
                                     "teach provision.py")
                return self.local_atts[key]
            if fn == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                extra = {key: self.value(val) for key, val in extra.items()}

                def substitute(match):
                    name = match.group(1)
                    if name.startswith("!"):
                        return "${" + name[1:] + "}"
                    if name in extra:
                        return extra[name]
                    if "." in name:
                        raise SystemExit(f"provision: no local value for ${{{name}}}")
                    return self.ref(name)

                return self.dynamic(re.sub(r"\$\{([^}]+)\}", substitute, text))
            if fn == "Fn::Join":
                return arg[0].join(self.value(part) for part in arg[1])
            if fn == "Fn::Select":
                return self.value(arg[1])[int(self.value(arg[0]))] if isinstance(arg[1], list) \
                    else self.value_list(arg[1])[int(self.value(arg[0]))]
            if fn == "Fn::Split":
                return self.value_list(node)
        raise SystemExit(f"provision: cannot resolve {node!r} locally; teach provision.py")

    def value_list(self, node):
        if isinstance(node, dict) and "Fn::Split" in node:
            sep, source = node["Fn::Split"]
            return self.value(source).split(sep)
        return [self.value(item) for item in node]

    def dynamic(self, text):
        """Secrets reach functions through Secrets Manager (moto), never through the environment:
        a dynamic reference in the template is refused here as it would leak on AWS."""
        if DYNAMIC_SECRET.search(text):
            raise SystemExit("provision: the template resolves a secret into a value; name the secret "
                             "instead (<NAME>_SECRET: !Ref …) and read it at start")
        return text


def read_dev_secrets(path=DEV_SECRETS):
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


# --- provisioning -------------------------------------------------------------------------------

def client(service, port):
    return boto3.client(service, region_name=REGION, endpoint_url=f"http://127.0.0.1:{port}",
                        **CREDENTIALS)


def create_table(dynamodb, name, props):
    if props.get("BillingMode", "PROVISIONED") != "PAY_PER_REQUEST":
        raise SystemExit(f"provision: {name} is not PAY_PER_REQUEST; provision.py only mirrors that")
    request = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
    }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            request[key] = [
                {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                for index in props[key]
            ]
    if props.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    try:
        dynamodb.create_table(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        return  # already provisioned (the stack was started before)
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )


def create_queues(sqs, resources, local_refs, local_atts):
    """Every AWS::SQS::Queue of the template (name = logical id) with its visibility timeout and
    redrive policy, so that a failing message locally lands in a dead-letter queue as on AWS."""
    queues = {lid: r.get("Properties") or {} for lid, r in resources.items()
              if r.get("Type") == "AWS::SQS::Queue"}
    for logical_id in queues:
        url = sqs.create_queue(QueueName=logical_id)["QueueUrl"]
        local_refs[logical_id] = url
        local_atts[(logical_id, "Arn")] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for logical_id, props in queues.items():
        attributes = {}
        if "VisibilityTimeout" in props:
            attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps({
                "deadLetterTargetArn": local_atts[(target, "Arn")],
                "maxReceiveCount": str(redrive["maxReceiveCount"]),
            })
        if attributes:
            sqs.set_queue_attributes(QueueUrl=local_refs[logical_id], Attributes=attributes)


def rate_seconds(expression):
    """The period of an EventBridge `rate(N minute[s]|hour[s]|day[s])` expression, in seconds."""
    match = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression.strip())
    if not match:
        raise SystemExit(f"provision: schedule {expression!r} is not a rate(); teach provision.py")
    return int(match.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[match.group(2)]


def stream_subscription(logical_id, binary, event_name, props, local_refs):
    """A DynamoDB stream trigger, with the event source mapping's settings the local stream relay
    honours as Lambda does (batch size, filters, partial batch responses, bisection, bounded
    retries, the on-failure queue)."""
    stream = props["Stream"]
    if not (isinstance(stream, dict) and "Fn::GetAtt" in stream and stream["Fn::GetAtt"][1] == "StreamArn"):
        raise SystemExit(f"provision: {logical_id}.{event_name}: Stream must be !GetAtt <table>.StreamArn")
    on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    failure_queue = on_failure["Fn::GetAtt"][0] if on_failure else None
    return {
        "source": "dynamodb",
        "function": binary,
        "function_logical_id": logical_id,
        "event": event_name,
        "table": stream["Fn::GetAtt"][0],
        "starting_position": props["StartingPosition"],
        "batch_size": int(props.get("BatchSize", 100)),
        "filters": [json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])],
        "report_batch_item_failures": "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        "bisect": bool(props.get("BisectBatchOnFunctionError", False)),
        "maximum_retry_attempts": int(props.get("MaximumRetryAttempts", -1)),
        "maximum_record_age_seconds": int(props.get("MaximumRecordAgeInSeconds", -1)),
        "on_failure_queue_url": local_refs[failure_queue] if failure_queue else None,
    }


def create_kms_keys(kms, resources, resolver, local_refs, local_atts):
    """Every AWS::KMS::Key of the template in moto, found again by its alias if provisioned
    before; !Ref gives the key id and !GetAtt Arn its ARN, as on AWS."""
    existing = {alias["AliasName"]: alias.get("TargetKeyId")
                for page in kms.get_paginator("list_aliases").paginate() for alias in page["Aliases"]}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::KMS::Key":
            continue
        props = resource.get("Properties") or {}
        aliases = [resolver.value(r["Properties"]["AliasName"]) for r in resources.values()
                   if r.get("Type") == "AWS::KMS::Alias"
                   and r["Properties"].get("TargetKeyId") == {"Ref": logical_id}]
        if not aliases:
            raise SystemExit(f"provision: {logical_id} has no AWS::KMS::Alias; provision.py finds "
                             "keys again by their alias")
        key_id = next((existing[a] for a in aliases if existing.get(a)), None)
        if key_id is None:
            key_id = kms.create_key(Description=props.get("Description", logical_id))["KeyMetadata"]["KeyId"]
            if props.get("EnableKeyRotation"):
                kms.enable_key_rotation(KeyId=key_id)
            for alias in aliases:
                kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        local_refs[logical_id] = key_id
        local_atts[(logical_id, "Arn")] = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def create_dev_secrets(secrets, resources, local_refs, dev):
    """Every secret of the template, and every secret the operator makes on AWS (named by a
    parameter's Default), in moto with its dev-only value from infra/local/dev-secrets.env."""
    named = {local_refs[lid]: lid for lid, r in resources.items() if r.get("Type") == "AWS::SecretsManager::Secret"}
    named.update({key: key for key in dev if "/" in key})
    for name, key in named.items():
        if key not in dev:
            raise SystemExit(f"provision: no dev value for secret {key} in {DEV_SECRETS}")
        try:
            secrets.create_secret(Name=name, SecretString=dev[key])
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=name, SecretString=dev[key])


def create_tax_signing_key(secrets, name, memory_id):
    """The store's signing key with the tax system, as the operator stores it on AWS: a secret of
    {"private_key", "certificate"} PEMs. Locally a fresh key and a self-signed certificate (the
    emulator trusts the certificate each request carries); kept if the secret exists."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    try:
        secrets.describe_secret(SecretId=name)
        return
    except secrets.exceptions.ResourceNotFoundException:
        pass
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"mizan-local-{memory_id}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=365)).sign(key, hashes.SHA256()))
    value = {
        "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
    }
    secrets.create_secret(Name=name, SecretString=json.dumps(value))


def product_item(product):
    """A product of the catalog in the layout of shared/aws/src/dynamodb/products.rs (product_item)."""
    item = {
        "pk": {"S": f"PRODUCT#{product['id']}"},
        "name_fa": {"S": product["name_fa"]},
        "kind": {"S": product["kind"]},
        "unit_code": {"N": str(product["unit_code"])},
        "price": {"N": str(product["price"])},
        "vat_class": {"S": product["vat_class"]},
        "goods_id": {"S": product["goods_id"]},
        "stock": {"N": str(product["stock"])},
    }
    if product["weight_grams"] is not None:
        item["weight_grams"] = {"N": str(product["weight_grams"])}
    return item


def seed_products(dynamodb, table, path=PRODUCTS_SEED):
    """Loads the seed catalog."""
    for product in json.loads(path.read_text(encoding="utf-8")):
        try:
            # Provisioning a running stack again keeps the stock its orders left.
            dynamodb.put_item(TableName=table, Item=product_item(product),
                              ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def main():
    state = Path(os.environ["MIZAN_STATE_DIR"])
    dynamodb_port = int(os.environ["MIZAN_DYNAMODB_PORT"])
    moto_port = int(os.environ["MIZAN_MOTO_PORT"])
    watch_port = int(os.environ["MIZAN_WATCH_PORT"])
    moto_url = f"http://127.0.0.1:{moto_port}"
    zarinpal_url = f"http://127.0.0.1:{int(os.environ['MIZAN_ZARINPAL_PORT'])}"
    moadian_url = f"http://127.0.0.1:{int(os.environ['MIZAN_MOADIAN_PORT'])}"
    api_url = f"http://127.0.0.1:{watch_port}"

    template = load_template()
    resources = template.get("Resources", {})
    dynamodb = client("dynamodb", dynamodb_port)
    sns = client("sns", moto_port)
    sqs = client("sqs", moto_port)
    sesv2 = client("sesv2", moto_port)
    kms = client("kms", moto_port)

    local_refs = {}
    local_atts = {}
    create_queues(sqs, resources, local_refs, local_atts)
    for logical_id, resource in resources.items():
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if kind == "AWS::DynamoDB::Table":
            create_table(dynamodb, logical_id, props)
            local_refs[logical_id] = logical_id
        elif kind == "AWS::SNS::Topic":
            local_refs[logical_id] = sns.create_topic(Name=logical_id)["TopicArn"]
        elif kind == "AWS::SecretsManager::Secret":
            local_refs[logical_id] = f"local-secret-{logical_id}"
    seed_products(dynamodb, "ProductsTable")

    # Parameters whose Default points at the internet point at the local stand-ins instead.
    local_parameters = {"ZarinpalPaymentUrl": zarinpal_url, "ZarinpalApiUrl": zarinpal_url,
                        "ZarinpalGraphqlUrl": f"{zarinpal_url}/api/v4/graphql/", "TaxSystemUrl": moadian_url}
    # The local router reports every caller as 127.0.0.1: counted per address, the whole stack
    # would be one client. The tests of those limits invoke the function with addresses of their
    # own; the benchmark's samples all come from one documentation address.
    local_parameters["AbuseLimitsExempt"] = "127.0.0.1,203.0.113.10" if os.environ.get("MIZAN_PROFILE") == "bench" \
        else "127.0.0.1"
    # The tests watch a delivered order's recipient go (P15): seconds there, the Default elsewhere.
    if os.environ.get("MIZAN_PROFILE") == "test":
        local_parameters["RecipientKeptAfterFulfilment"] = "PT3S"
    dev = read_dev_secrets()
    # The sessions' public key: a parameter with no Default (the operator's key), the dev one here.
    local_parameters["SessionPublicKeys"] = dev["SessionPublicKeys"]
    resolver = Resolver(template, local_refs, local_atts, local_parameters)
    create_kms_keys(kms, resources, resolver, local_refs, local_atts)
    params = template.get("Parameters", {})
    secretsmanager = client("secretsmanager", moto_port)
    create_dev_secrets(secretsmanager, resources, local_refs, dev)
    create_tax_signing_key(secretsmanager, params["TaxSigningKeySecretName"]["Default"],
                           params["TaxMemoryId"]["Default"])

    # Environment: the union over every function and Globals.
    env = {}
    origin = {}
    sections = [("Globals", template.get("Globals", {}).get("Function", {}))]
    sections += [(lid, r.get("Properties") or {}) for lid, r in resources.items()
                 if r.get("Type") == "AWS::Serverless::Function"]
    for where, props in sections:
        for name, raw in ((props.get("Environment") or {}).get("Variables") or {}).items():
            value = resolver.value(raw)
            if name in env and env[name] != value:
                raise SystemExit(f"provision: {name} differs between {origin[name]} and {where}; "
                                 "one local env file cannot hold both")
            env[name], origin[name] = value, where

    # SES: the sender's domain must be a verified identity, or moto rejects every email.
    if "SENDER_EMAIL" in env:
        domain = env["SENDER_EMAIL"].rsplit("@", 1)[-1]
        try:
            sesv2.create_email_identity(EmailIdentity=domain)
        except ClientError as error:
            if error.response["Error"]["Code"] != "AlreadyExistsException":
                raise

    # SNS -> function: an SQS queue per subscription, which the relay delivers from.
    subscriptions = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        for event_name, event in (props.get("Events") or {}).items():
            if event.get("Type") not in ("SNS", "SQS", "DynamoDB", "Schedule"):
                continue
            if not binary:
                raise SystemExit(f"provision: {logical_id} has no Metadata.BuildProperties.Binary")
            if event["Type"] == "Schedule":
                subscriptions.append({
                    "source": "schedule",
                    "function": binary,
                    "function_logical_id": logical_id,
                    "event": event_name,
                    "every_seconds": rate_seconds(event["Properties"]["Schedule"]),
                })
                continue
            if event["Type"] == "DynamoDB":
                subscriptions.append(stream_subscription(logical_id, binary, event_name,
                                                         event["Properties"], local_refs))
                continue
            if event["Type"] == "SQS":
                # The template's own queue: the relay polls it as Lambda's event source mapping would.
                queue_arn = resolver.value(event["Properties"]["Queue"])
                queue_id = next(lid for (lid, att), arn in local_atts.items() if arn == queue_arn)
                subscriptions.append({
                    "source": "sqs",
                    "function": binary,
                    "function_logical_id": logical_id,
                    "event": event_name,
                    "queue_arn": queue_arn,
                    "queue_url": local_refs[queue_id],
                    "batch_size": int(event["Properties"].get("BatchSize", 10)),
                })
                continue
            topic_arn = resolver.value(event["Properties"]["Topic"])
            base = f"{logical_id}-{event_name}"
            dlq_url = sqs.create_queue(QueueName=f"{base}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            queue_url = sqs.create_queue(
                QueueName=base,
                Attributes={
                    "VisibilityTimeout": "60",
                    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                                 "maxReceiveCount": "3"}),
                },
            )["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            existing = [s for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
                        if s["Endpoint"] == queue_arn]
            subscription_arn = existing[0]["SubscriptionArn"] if existing else sns.subscribe(
                TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                ReturnSubscriptionArn=True)["SubscriptionArn"]
            # The template's filter policy, so a function locally gets only the events it would
            # get on AWS.
            filter_policy = event["Properties"].get("FilterPolicy")
            if filter_policy:
                sns.set_subscription_attributes(SubscriptionArn=subscription_arn,
                                                AttributeName="FilterPolicy",
                                                AttributeValue=json.dumps(filter_policy))
            subscriptions.append({
                "source": "sns",
                "function": binary,
                "function_logical_id": logical_id,
                "event": event_name,
                "topic_arn": topic_arn,
                "subscription_arn": subscription_arn,
                "queue_url": queue_url,
                "dead_letter_queue_url": dlq_url,
            })

    # How long each function may run (the template's Timeout): the relay waits that long for it.
    default_timeout = int((template.get("Globals", {}).get("Function") or {}).get("Timeout", 3))
    for subscription in subscriptions:
        props = resources[subscription["function_logical_id"]].get("Properties") or {}
        subscription["timeout_seconds"] = int(props.get("Timeout", default_timeout))

    state.mkdir(parents=True, exist_ok=True)
    (state / "subscriptions.json").write_text(json.dumps(subscriptions, indent=2) + "\n",
                                              encoding="utf-8")

    exported = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{dynamodb_port}",
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": f"http://127.0.0.1:{dynamodb_port}",
        "AWS_ENDPOINT_URL_SNS": moto_url,
        "AWS_ENDPOINT_URL_SESV2": moto_url,
        "AWS_ENDPOINT_URL_SQS": moto_url,
        "AWS_ENDPOINT_URL_KMS": moto_url,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
        "MIZAN_API_URL": api_url,
        "MIZAN_MOTO_URL": moto_url,
        "MIZAN_ZARINPAL_URL": zarinpal_url,
        "MIZAN_MOADIAN_URL": moadian_url,
        "MIZAN_STATE_DIR": str(state),
    }
    lines = [
        "# Written by infra/local/provision.py: the local stack's environment. Source it; do not edit.",
        "# Template variables are resolved locally (tables and topics by logical id, parameters by",
        "# Default; secrets are named, and moto holds them with infra/local/dev-secrets.env's dummies).",
    ]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in exported.items()]
    # The gateway sends the customer's browser back to the local API, not the public one (which
    # the messages' links keep: one-click unsubscribe links must be HTTPS).
    env["PAYMENT_CALLBACK_URL"] = api_url
    for name in sorted(env):
        if name in exported:
            raise SystemExit(f"provision: template variable {name} clashes with the local stack's own")
        if name in OVERRIDABLE:
            lines.append(f"export {name}=\"${{{name}:-{env[name]}}}\"")
        else:
            lines.append(f"export {name}={shlex.quote(env[name])}")
    env_file = state / "env"
    tmp = env_file.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(env_file)
    print(f"provision: {sum(1 for r in resources.values() if r.get('Type') == 'AWS::DynamoDB::Table')} "
          f"tables, {len(subscriptions)} subscriptions; env in {env_file}", file=sys.stderr)


if __name__ == "__main__":
    main()
