import { Controller, Get, Header } from '@nestjs/common';
import { BrokerMetrics } from './broker-metrics';

/** Prometheus scrape endpoint. Bind the port privately or restrict it at the proxy. */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: BrokerMetrics) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
