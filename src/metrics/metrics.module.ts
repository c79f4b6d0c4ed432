import { Global, Module } from '@nestjs/common';
import { BrokerMetrics } from './broker-metrics';
import { MetricsServer } from './metrics.controller';

/** Metrics for every module; served by MetricsServer on METRICS_PORT, not by the API. */
@Global()
@Module({ providers: [BrokerMetrics, MetricsServer], exports: [BrokerMetrics, MetricsServer] })
export class MetricsModule {}
